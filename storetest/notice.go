package storetest

import (
	"testing"
	"time"

	"github.com/convoi/convoi"
)

func testNotice(t *testing.T, open OpenFunc) {
	e := newEnv(t, open)
	w := e.world(t)
	m := w.movement("MC-N1", T0.Add(3*time.Hour))
	must(t, e.Movements.CreateMovement(e.ctx, m))
	m2 := w.movement("MC-N2", T0.Add(27*time.Hour))
	must(t, e.Movements.CreateMovement(e.ctx, m2))
	liaison := &convoi.User{Username: "greffe", Role: convoi.RoleLiaison, SiteID: w.Court.ID}
	must(t, e.Users.CreateUser(e.ctx, liaison))

	basis := T0.Add(3 * time.Hour)
	court := &convoi.Notice{MovementID: m.ID, Recipient: "user:greffe", UserID: liaison.ID,
		WindowStart: basis.Add(-20 * time.Minute), WindowEnd: basis.Add(25 * time.Minute), Code: "K7Q2", Basis: basis}
	hospital := &convoi.Notice{MovementID: m.ID, Recipient: "CHPG admissions",
		WindowStart: basis.Add(-15 * time.Minute), WindowEnd: basis.Add(30 * time.Minute), Code: "M4X9", Basis: basis}
	// The same code on another movement is another variant.
	other := &convoi.Notice{MovementID: m2.ID, Recipient: "CHPG admissions",
		WindowStart: basis.Add(23 * time.Hour), WindowEnd: basis.Add(25 * time.Hour), Code: "K7Q2", Basis: basis.Add(24 * time.Hour)}

	t.Run("Create", func(t *testing.T) {
		must(t, e.Notices.CreateNotice(e.ctx, court))
		e.clock.Add(time.Minute)
		must(t, e.Notices.CreateNotice(e.ctx2, hospital))
		must(t, e.Notices.CreateNotice(e.ctx2, other))
		if court.ID == 0 || hospital.ID <= court.ID || other.ID <= hospital.ID {
			t.Fatalf("ids %d, %d, %d", court.ID, hospital.ID, other.ID)
		}
		same(t, "issued_by set on create", hospital.IssuedBy, author2)
		sameTime(t, "issued_at set on create", hospital.IssuedAt, T0.Add(time.Minute))
		got, err := e.Notices.FindNotices(e.ctx, convoi.NoticeFilter{MovementID: &m.ID})
		must(t, err)
		same(t, "notices of the movement", noticeIDs(got), []convoi.NoticeID{court.ID, hospital.ID})
		n := got[0]
		same(t, "movement", n.MovementID, m.ID)
		same(t, "recipient", n.Recipient, "user:greffe")
		same(t, "user", n.UserID, liaison.ID)
		same(t, "code", n.Code, "K7Q2")
		sameTime(t, "window start", n.WindowStart, court.WindowStart)
		sameTime(t, "window end", n.WindowEnd, court.WindowEnd)
		sameTime(t, "basis", n.Basis, basis)
		same(t, "issued_by", n.IssuedBy, author)
		sameTime(t, "issued_at", n.IssuedAt, T0)
		same(t, "no user", got[1].UserID, convoi.UserID(0))
	})

	t.Run("Conflict", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			n    convoi.Notice
		}{
			{"RecipientTwiceOnOneBasis", convoi.Notice{MovementID: m.ID, Recipient: "CHPG admissions",
				WindowStart: basis.Add(-10 * time.Minute), WindowEnd: basis.Add(40 * time.Minute), Code: "Z1Z1", Basis: basis}},
			{"WindowGivenToAnother", convoi.Notice{MovementID: m.ID, Recipient: "Prefecture",
				WindowStart: hospital.WindowStart, WindowEnd: hospital.WindowEnd, Code: "Z2Z2", Basis: basis}},
			{"CodeGivenToAnother", convoi.Notice{MovementID: m.ID, Recipient: "Prefecture",
				WindowStart: basis.Add(-5 * time.Minute), WindowEnd: basis.Add(50 * time.Minute), Code: "M4X9", Basis: basis}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := tc.n
				wantCode(t, e.Notices.CreateNotice(e.ctx, &n), convoi.ECONFLICT)
			})
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			n    convoi.Notice
		}{
			{"MissingMovement", convoi.Notice{MovementID: 9999, Recipient: "x", WindowStart: basis, WindowEnd: basis.Add(time.Hour), Code: "A1", Basis: basis}},
			{"MissingUser", convoi.Notice{MovementID: m.ID, Recipient: "user:ghost", UserID: 9999, WindowStart: basis, WindowEnd: basis.Add(time.Hour), Code: "A2", Basis: basis}},
			{"NoRecipient", convoi.Notice{MovementID: m.ID, WindowStart: basis, WindowEnd: basis.Add(time.Hour), Code: "A3", Basis: basis}},
			{"WindowBackwards", convoi.Notice{MovementID: m.ID, Recipient: "x", WindowStart: basis, WindowEnd: basis.Add(-time.Hour), Code: "A4", Basis: basis}},
			{"NoCode", convoi.Notice{MovementID: m.ID, Recipient: "x", WindowStart: basis, WindowEnd: basis.Add(time.Hour), Basis: basis}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := tc.n
				wantCode(t, e.Notices.CreateNotice(e.ctx, &n), convoi.EINVALID)
			})
		}
		got, err := e.Notices.FindNotices(e.ctx, convoi.NoticeFilter{})
		must(t, err)
		same(t, "notices stored", len(got), 3)
	})

	t.Run("Redrawn", func(t *testing.T) {
		// A re-drawn movement gives the recipient a new variant; the old stays.
		later := basis.Add(45 * time.Minute)
		again := &convoi.Notice{MovementID: m.ID, Recipient: "CHPG admissions",
			WindowStart: later.Add(-15 * time.Minute), WindowEnd: later.Add(30 * time.Minute), Code: "R8T3", Basis: later}
		must(t, e.Notices.CreateNotice(e.ctx, again))
		got, err := e.Notices.FindNotices(e.ctx, convoi.NoticeFilter{Recipient: ptr("CHPG admissions")})
		must(t, err)
		same(t, "variants of the recipient", noticeIDs(got), []convoi.NoticeID{hospital.ID, other.ID, again.ID})
	})

	t.Run("Filter", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			filter convoi.NoticeFilter
			want   []convoi.NoticeID
		}{
			{"Movement", convoi.NoticeFilter{MovementID: &m2.ID}, []convoi.NoticeID{other.ID}},
			{"Code", convoi.NoticeFilter{Code: ptr("K7Q2")}, []convoi.NoticeID{court.ID, other.ID}},
			{"CodeAndMovement", convoi.NoticeFilter{Code: ptr("K7Q2"), MovementID: &m2.ID}, []convoi.NoticeID{other.ID}},
			{"Recipient", convoi.NoticeFilter{Recipient: ptr("user:greffe")}, []convoi.NoticeID{court.ID}},
			{"None", convoi.NoticeFilter{Code: ptr("NONE")}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := e.Notices.FindNotices(e.ctx, tc.filter)
				must(t, err)
				same(t, "ids", noticeIDs(got), tc.want)
			})
		}
	})
}

func noticeIDs(ns []*convoi.Notice) []convoi.NoticeID {
	var ids []convoi.NoticeID
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	return ids
}
