package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	authv1 "github.com/acme/authgw/gen/auth/v1"
	"github.com/acme/authgw/gen/auth/v1/authv1connect"

	"github.com/acme/authgw/authsvc/internal/auth"
)

// handler adapts auth.Service to the generated Connect interface. It only
// converts messages; rules live in auth, error codes in errors.go.
type handler struct {
	svc *auth.Service
	// trusted are the proxies whose X-Forwarded-For is believed.
	trusted []netip.Prefix
}

var _ authv1connect.AuthServiceHandler = (*handler)(nil)

func (h *handler) Register(ctx context.Context, req *authv1.RegisterRequest) (*authv1.RegisterResponse, error) {
	u, err := h.svc.Register(ctx, req.GetEmail(), req.GetPassword())
	if err != nil {
		return nil, err
	}
	return &authv1.RegisterResponse{User: userProto(u)}, nil
}

func (h *handler) Login(ctx context.Context, req *authv1.LoginRequest) (*authv1.LoginResponse, error) {
	p, err := h.svc.Login(ctx, req.GetEmail(), req.GetPassword(), h.clientFrom(ctx))
	if err != nil {
		return nil, err
	}
	return &authv1.LoginResponse{
		AccessToken:  p.AccessToken,
		RefreshToken: p.RefreshToken,
		ExpiresIn:    int32(p.ExpiresIn.Round(time.Second) / time.Second),
		TokenType:    "Bearer",
		User:         userProto(p.User),
	}, nil
}

func (h *handler) Refresh(ctx context.Context, req *authv1.RefreshRequest) (*authv1.RefreshResponse, error) {
	p, err := h.svc.Refresh(ctx, req.GetRefreshToken())
	if err != nil {
		return nil, err
	}
	return &authv1.RefreshResponse{
		AccessToken:  p.AccessToken,
		RefreshToken: p.RefreshToken,
		ExpiresIn:    int32(p.ExpiresIn.Round(time.Second) / time.Second),
		TokenType:    "Bearer",
		User:         userProto(p.User),
	}, nil
}

func (h *handler) Logout(ctx context.Context, req *authv1.LogoutRequest) (*authv1.LogoutResponse, error) {
	if err := h.svc.Logout(ctx, req.GetRefreshToken()); err != nil {
		return nil, err
	}
	return &authv1.LogoutResponse{}, nil
}

func (h *handler) Me(ctx context.Context, _ *authv1.MeRequest) (*authv1.MeResponse, error) {
	u, err := h.svc.Me(ctx)
	if err != nil {
		return nil, err
	}
	return &authv1.MeResponse{User: userProto(u)}, nil
}

func (h *handler) ChangePassword(ctx context.Context, req *authv1.ChangePasswordRequest) (*authv1.ChangePasswordResponse, error) {
	if err := h.svc.ChangePassword(ctx, req.GetCurrentPassword(), req.GetNewPassword()); err != nil {
		return nil, err
	}
	return &authv1.ChangePasswordResponse{}, nil
}

func (h *handler) ListSessions(ctx context.Context, _ *authv1.ListSessionsRequest) (*authv1.ListSessionsResponse, error) {
	list, err := h.svc.ListSessions(ctx)
	if err != nil {
		return nil, err
	}
	out := &authv1.ListSessionsResponse{Sessions: make([]*authv1.Session, 0, len(list))}
	for _, s := range list {
		out.Sessions = append(out.Sessions, &authv1.Session{
			Id:          s.ID,
			CreateTime:  timestamppb.New(s.CreatedAt),
			LastUseTime: timestamppb.New(s.LastUsedAt),
			ExpireTime:  timestamppb.New(s.ExpiresAt),
			UserAgent:   s.UserAgent,
			IpAddress:   s.IPAddress,
			Current:     s.Current,
		})
	}
	return out, nil
}

func (h *handler) RevokeSession(ctx context.Context, req *authv1.RevokeSessionRequest) (*authv1.RevokeSessionResponse, error) {
	if err := h.svc.RevokeSession(ctx, req.GetSessionId()); err != nil {
		return nil, err
	}
	return &authv1.RevokeSessionResponse{}, nil
}

func userProto(u *auth.User) *authv1.User {
	return &authv1.User{
		Id:         u.ID,
		Email:      u.Email,
		Roles:      u.Roles,
		CreateTime: timestamppb.New(u.CreatedAt),
	}
}

// clientFrom describes the caller of a login from its request.
func (h *handler) clientFrom(ctx context.Context) auth.Client {
	call, ok := connect.CallInfoForHandlerContext(ctx)
	if !ok {
		return auth.Client{}
	}
	return auth.Client{
		UserAgent: call.RequestHeader().Get("User-Agent"),
		IPAddress: clientIP(call.Peer().Addr, call.RequestHeader().Values("X-Forwarded-For"), h.trusted),
	}
}

// clientIP is the address of the client: the peer, unless the peer is a
// trusted proxy; then the right-most X-Forwarded-For entry that is not a
// trusted proxy itself (entries left of it could be forged by the client).
func clientIP(peer string, forwarded []string, trusted []netip.Prefix) string {
	addr := peer
	if host, _, err := net.SplitHostPort(peer); err == nil {
		addr = host
	}
	isTrusted := func(s string) bool {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		ip = ip.Unmap()
		for _, p := range trusted {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	if !isTrusted(addr) {
		return addr
	}
	var hops []string
	for _, v := range forwarded {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if _, err := netip.ParseAddr(hops[i]); err != nil {
			return addr // a malformed chain: keep what is known for sure
		}
		if !isTrusted(hops[i]) || i == 0 {
			return hops[i]
		}
	}
	return addr
}
