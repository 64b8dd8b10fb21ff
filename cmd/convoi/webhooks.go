package main

import (
	"context"
	"log/slog"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/webhook"
)

// openWebhooks starts the webhook sender on the store's outbox, woken by
// movement and alarm changes on the bus (and polling every second, which
// also picks up what was left over from before a restart).
func (a *App) openWebhooks(ctx context.Context) error {
	snd := webhook.New(a.S.Webhooks)
	snd.Now = a.Now
	snd.OnError = func(err error) {
		a.Logger.LogAttrs(context.Background(), slog.LevelError, "webhook outbox", slog.String("error", err.Error()))
	}
	if err := snd.Open(); err != nil {
		return err
	}
	a.closers = append(a.closers, snd.Close)
	if a.Events == nil {
		return nil
	}
	wctx, cancel := context.WithCancel(context.Background())
	sub, err := a.Events.Subscribe(wctx)
	if err != nil {
		cancel()
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range sub.C() {
			if e.Type == convoi.EventTypeMovement || e.Type == convoi.EventTypeAlarm {
				snd.Wake()
			}
		}
	}()
	a.closers = append(a.closers, func() error { cancel(); sub.Close(); <-done; return nil })
	return nil
}
