package natsbus

import (
	"context"
	"slices"
	"time"
)

// Keeper keeps this node's share of a changing set of keys (the underway
// movements) under lease: every Interval it asks Want for the keys that
// need an owner, tries to hold each (taking free or expired ones, renewing
// its own), and reports each key it gains (OnGain: start monitoring the
// movement, from the stored state) and each it loses or that is no longer
// wanted (OnLose: stop). A key whose holder died is gained by another
// node's Keeper within the lease TTL plus one Interval.
//
// Keys are spread across nodes as they come: whichever Keeper asks first
// after a key appears or expires takes it.
type Keeper struct {
	Leases   *Leases
	Interval time.Duration // default Leases.TTL/3
	Want     func(ctx context.Context) ([]string, error)
	OnGain   func(ctx context.Context, key string)
	OnLose   func(ctx context.Context, key string)
	OnError  func(error)

	held []string
}

// Run keeps leases until ctx ends, then releases the held ones (a clean
// shutdown hands them over at once; a killed node's expire after the TTL).
func (k *Keeper) Run(ctx context.Context) error {
	every := k.Interval
	if every <= 0 {
		every = k.Leases.TTL / 3
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		k.Step(ctx)
		select {
		case <-ctx.Done():
			k.releaseAll()
			return nil
		case <-t.C:
		}
	}
}

// Step runs one round: hold the wanted keys, report gains and losses.
func (k *Keeper) Step(ctx context.Context) {
	want, err := k.Want(ctx)
	if err != nil {
		k.report(err)
		return // keep what is held; the leases expire if this persists
	}
	var now []string
	for _, key := range want {
		ok, err := k.Leases.Hold(ctx, key)
		if err != nil {
			k.report(err)
			if slices.Contains(k.held, key) {
				// Not known lost: keep working on it until the lease
				// reports otherwise, as the TTL covers a short outage.
				now = append(now, key)
			}
			continue
		}
		if ok {
			now = append(now, key)
		}
	}
	for _, key := range k.held {
		if !slices.Contains(now, key) {
			if !slices.Contains(want, key) {
				k.Leases.Release(ctx, key)
			}
			if k.OnLose != nil {
				k.OnLose(ctx, key)
			}
		}
	}
	for _, key := range now {
		if !slices.Contains(k.held, key) && k.OnGain != nil {
			k.OnGain(ctx, key)
		}
	}
	k.held = now
}

// Held returns the keys held after the last round.
func (k *Keeper) Held() []string { return slices.Clone(k.held) }

func (k *Keeper) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, key := range k.held {
		if err := k.Leases.Release(ctx, key); err != nil {
			k.report(err)
		}
	}
	k.held = nil
}

func (k *Keeper) report(err error) {
	if k.OnError != nil {
		k.OnError(err)
	}
}
