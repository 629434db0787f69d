// Package token issues and verifies the auth service's access tokens:
// EdDSA (Ed25519) JWTs with header typ "at+jwt" and a kid, and publishes
// the verification keys as a JWKS so the gateway and other services can
// check tokens without calling back.
//
// The key id is the RFC 7638 JWK thumbprint of the public key, so it is a
// pure function of the key: a key keeps its id when it moves from current
// to previous during a rotation, and tokens it signed keep verifying.
package token
