package web

import (
	"context"
	"fmt"

	"github.com/convoi/convoi"
)

// revokeUserTokens revokes every live session and API token of user id,
// through TokenService.RevokeToken: the one revocation path, which the
// token cache wrapping TokenService follows at once. A password reset
// calls it, so that whoever held the old password (or a token minted with
// it) is out at once. (Disabling a user suspends their tokens without
// revoking them: enabling the user gives them back.)
func (s *Server) revokeUserTokens(ctx context.Context, id convoi.UserID) error {
	ts, err := s.TokenService.FindTokens(ctx, id)
	if err != nil {
		return fmt.Errorf("find tokens to revoke: %w", err)
	}
	for _, t := range ts {
		if t.Revoked {
			continue
		}
		if err := s.TokenService.RevokeToken(ctx, t.ID); err != nil && convoi.ErrorCode(err) != convoi.ENOTFOUND {
			return fmt.Errorf("revoke token %d: %w", t.ID, err)
		}
	}
	return nil
}
