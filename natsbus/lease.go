package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Leases: a lease not renewed for DefaultLeaseTTL expires; a
// holder renews it every DefaultLeaseTTL/3, so that one lost renewal does
// not lose it, and another node takes over within TTL plus its own renewal
// interval (4 + 1.3 s, well within the 10 s the cluster promises).
const (
	DefaultLeaseBucket = "convoi_leases"
	DefaultLeaseTTL    = 4 * time.Second
)

// Leases grants this node expiring, exclusive ownership of named resources
// (which node monitors which underway movement) in a JetStream key-value
// bucket whose entries expire after TTL: the value of a key is the holding
// node's name. Every write is a compare-and-set on the key's revision, so
// two nodes racing for a free key cannot both win, and only the holder
// renews. A holder that stops (killed, partitioned from NATS) stops
// renewing; its lease expires after TTL and the next node to call Hold
// takes it. A holder paused for longer than TTL (a stop-the-world freeze)
// learns at its next Hold that it lost the lease; what it did in between is
// made harmless by the store (an alarm is keyed by movement and rule, so a
// second raise updates the same alarm).
type Leases struct {
	Node string // this node's name, unique in the cluster
	TTL  time.Duration
	kv   jetstream.KeyValue
}

// OpenLeases creates or opens the bucket and returns the leases of node.
// A bucket's TTL is fixed at creation: every node must use the same.
func OpenLeases(ctx context.Context, js jetstream.JetStream, bucket, node string, ttl time.Duration, replicas int) (*Leases, error) {
	if node == "" {
		return nil, fmt.Errorf("lease: node name required")
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "convoi leases: which node monitors which underway movement",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, replicas),
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", bucket, err)
	}
	return &Leases{Node: node, TTL: ttl, kv: kv}, nil
}

// Hold takes the lease on key when it is free or expired, or renews it
// when this node holds it, and reports whether this node holds it now. A
// key held by another node is not touched. Call it at least every TTL/3
// for every key the node works on, and stop working on a key as soon as it
// reports false.
func (l *Leases) Hold(ctx context.Context, key string) (bool, error) {
	e, err := l.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err := l.kv.Create(ctx, key, []byte(l.Node))
		if isCASFailure(err) {
			return false, nil // another node was first
		}
		return err == nil, err
	case err != nil:
		return false, fmt.Errorf("lease %s: %w", key, err)
	case string(e.Value()) != l.Node:
		return false, nil
	}
	if _, err := l.kv.Update(ctx, key, []byte(l.Node), e.Revision()); err != nil {
		if isCASFailure(err) {
			return false, nil
		}
		return false, fmt.Errorf("renew lease %s: %w", key, err)
	}
	return true, nil
}

// Holder returns the node holding key, or "" when the lease is free.
func (l *Leases) Holder(ctx context.Context, key string) (string, error) {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return string(e.Value()), nil
}

// Release gives up key if this node holds it (at the end of a movement, or
// when the node shuts down cleanly), so that another may take it at once.
func (l *Leases) Release(ctx context.Context, key string) error {
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if string(e.Value()) != l.Node {
		return nil
	}
	if err := l.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isCASFailure(err) {
		return fmt.Errorf("release lease %s: %w", key, err)
	}
	return nil
}

// isCASFailure reports a compare-and-set that lost: the key exists, or its
// revision moved.
func isCASFailure(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}
