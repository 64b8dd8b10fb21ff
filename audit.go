package convoi

import (
	"context"
	"time"
)

// AuditOutcome is how a recorded request ended.
type AuditOutcome string

const (
	AuditAllowed AuditOutcome = "allowed" // served
	AuditRefused AuditOutcome = "refused" // authentication, role, object or need-to-know refusal
	AuditFailed  AuditOutcome = "failed"  // allowed, but the request failed (bad input, conflict, error)
)

// AuditKind tells reads from writes.
type AuditKind string

const (
	AuditRead  AuditKind = "read"
	AuditWrite AuditKind = "write"
)

// AuditEntry is one record of the tamper-evident audit log: who did what to
// which object, from where, and how it ended. It never holds a secret (a
// token is named by its ID) nor a schedule value (fields are named, never
// copied): the log is read by auditors who need not know the schedule.
type AuditEntry struct {
	// Seq is the entry's index in the log, from 0, set by the log.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Who: the user and the token that authenticated the request (0 when
	// unauthenticated or refused before authentication).
	UserID   UserID  `json:"user_id,omitempty"`
	Username string  `json:"user,omitempty"`
	Role     Role    `json:"role,omitempty"`
	TokenID  TokenID `json:"token_id,omitempty"`
	// What: read or write, the API operation (a route pattern such as
	// "GET /api/v1/movements/{id}"), the objects ("movement:12") and the
	// schedule fields disclosed or changed ("planned_departure", "route").
	Kind    AuditKind `json:"kind"`
	Op      string    `json:"op"`
	Objects []string  `json:"objects,omitempty"`
	Fields  []string  `json:"fields,omitempty"`
	// From where: the client's address.
	Remote string `json:"remote,omitempty"`
	// Outcome and the HTTP status; Detail is a short reason for a refusal
	// or an extra fact (for example a tracker command's name).
	Outcome AuditOutcome `json:"outcome"`
	Status  int          `json:"status,omitempty"`
	Detail  string       `json:"detail,omitempty"`
}

// Schedule fields named in audit entries and release policies.
const (
	FieldDeparture = "planned_departure"
	FieldRoute     = "route"
	FieldStrategy  = "strategy"
)

// AuditFilter selects audit entries. Entries come newest first; Before, when
// set, pages backwards (entries with Seq < *Before).
type AuditFilter struct {
	Object  string // e.g. "movement:12"
	UserID  *UserID
	Field   string // entries that name this field
	Kind    AuditKind
	Outcome AuditOutcome
	Since   *time.Time
	Until   *time.Time
	Before  *int64
	Limit   int
}

// Match reports whether e passes the filter (ignoring Before and Limit).
func (f AuditFilter) Match(e *AuditEntry) bool {
	if f.Object != "" && !validEnum(f.Object, e.Objects) {
		return false
	}
	if f.UserID != nil && e.UserID != *f.UserID {
		return false
	}
	if f.Field != "" && !validEnum(f.Field, e.Fields) {
		return false
	}
	if f.Kind != "" && e.Kind != f.Kind {
		return false
	}
	if f.Outcome != "" && e.Outcome != f.Outcome {
		return false
	}
	if f.Since != nil && e.Time.Before(*f.Since) {
		return false
	}
	if f.Until != nil && !e.Time.Before(*f.Until) {
		return false
	}
	return true
}

// AuditProof is a Merkle proof of the audit log (RFC 6962): the hashes,
// base64, that lead from a leaf or an older tree to the root of a tree of
// Size entries.
type AuditProof struct {
	Seq      int64    `json:"seq,omitempty"`       // inclusion: the entry's index
	LeafHash string   `json:"leaf_hash,omitempty"` // inclusion: the entry's record hash
	From     int64    `json:"from,omitempty"`      // consistency: the older tree's size
	Size     int64    `json:"size"`
	Root     string   `json:"root"`
	Hashes   []string `json:"hashes"`
}

// AuditLog is the append-only, tamper-evident record of every API read of
// schedule fields and every write.
type AuditLog interface {
	// Append records e, setting e.Seq. It must not block the caller on disk.
	Append(e *AuditEntry) error
	FindAuditEntries(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
	FindAuditEntry(ctx context.Context, seq int64) (*AuditEntry, error)
	// Checkpoint returns the latest signed checkpoint (a C2SP
	// tlog-checkpoint signed note) and the tree size it covers.
	Checkpoint() (note []byte, size int64)
	// InclusionProof proves entry seq is in the tree of size entries.
	InclusionProof(ctx context.Context, seq, size int64) (*AuditProof, error)
	// ConsistencyProof proves the tree of size from is a prefix of the tree of size to.
	ConsistencyProof(ctx context.Context, from, to int64) (*AuditProof, error)
}
