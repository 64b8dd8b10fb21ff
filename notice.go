package convoi

import (
	"context"
	"time"
)

// NoticeID identifies a recipient notice.
type NoticeID int64

// Notice is what one recipient outside the escort (a court's liaison, a
// hospital's admissions desk) was told of a movement: an arrival window and
// a handover code. Every recipient of a movement gets a distinct variant
// (the window shifted and sized differently within the allowed slack, a
// different code), recorded here, so that a leaked window or code points
// back to whoever received it (see package leak and docs/security.md).
type Notice struct {
	ID         NoticeID   `json:"id"`
	MovementID MovementID `json:"movement_id"`
	// Recipient names who received it: "user:12" for a convoi user (a
	// liaison reading the arrival endpoint), or a free name for an outside
	// recipient a commander or control notified.
	Recipient string `json:"recipient"`
	UserID    UserID `json:"user_id,omitempty"` // when the recipient is a convoi user
	// The variant: the detainee arrives within [WindowStart, WindowEnd]
	// (whole minutes, UTC), and the escort will quote Code at the handover.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Code        string    `json:"code"`
	// Basis is the expected arrival the variant was drawn around. A
	// re-drawn movement gets new variants; the old ones stay on record.
	// Never shown: it is derived from the schedule.
	Basis    time.Time `json:"-"`
	IssuedBy UserID    `json:"issued_by"`
	IssuedAt time.Time `json:"issued_at"`
}

// MaxRecipientLen bounds a recipient's name.
const MaxRecipientLen = 200

// Validate checks a notice before it is stored.
func (n *Notice) Validate() error {
	if n.MovementID == 0 {
		return Errorf(EINVALID, "Notice movement_id required.")
	}
	if n.Recipient == "" {
		return Errorf(EINVALID, "Notice recipient required.")
	}
	if err := ValidateText("recipient", n.Recipient, MaxRecipientLen); err != nil {
		return err
	}
	if n.WindowStart.IsZero() || !n.WindowEnd.After(n.WindowStart) {
		return Errorf(EINVALID, "Notice window must end after it starts.")
	}
	if n.Basis.IsZero() {
		return Errorf(EINVALID, "Notice basis required.")
	}
	if n.Code == "" {
		return Errorf(EINVALID, "Notice code required.")
	}
	return nil
}

// NoticeFilter selects notices, oldest first.
type NoticeFilter struct {
	MovementID *MovementID
	Recipient  *string
	Code       *string
}

// NoticeService records notices. CreateNotice is ECONFLICT when the
// recipient already has a notice for the movement on the same basis, or when the variant
// (window or code) was already given to another recipient of it.
type NoticeService interface {
	CreateNotice(ctx context.Context, n *Notice) error
	FindNotices(ctx context.Context, f NoticeFilter) ([]*Notice, error)
}
