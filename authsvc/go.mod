module github.com/acme/authgw/authsvc

go 1.26.0
