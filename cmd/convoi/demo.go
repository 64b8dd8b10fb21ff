package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/osmdata"
	"github.com/convoi/convoi/seal"
)

// DefaultDemoPassword is the password of every demo user unless --demo-password says otherwise.
const DefaultDemoPassword = "convoi-demo"

func runDemo(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	a.DataDir = ""
	fs := newFlagSet(env, "demo")
	debug := appFlags(fs, env, a)
	password := fs.String("demo-password", DefaultDemoPassword, "password of every demo user")
	once := fs.Bool("once", false, "load the demo world, print what it shows and exit without serving")
	live := demoLiveFlags(fs.FlagSet)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := auth.ValidatePassword(*password); err != nil {
		return fmt.Errorf("--demo-password: %s", err)
	}
	a.Logger = newLogger(env.Stderr, levelFor(*debug))
	temporary := a.DataDir == ""
	if temporary {
		// A throwaway world: removed when the demo ends (after the store
		// is closed, hence deferred first). --data keeps one.
		dir, err := os.MkdirTemp("", "convoi-demo-")
		if err != nil {
			return err
		}
		a.DataDir = dir
		defer os.RemoveAll(dir)
	} else if _, err := os.Stat(filepath.Join(a.DataDir, "convoi.db")); err == nil {
		return fmt.Errorf("%s already holds a database: the demo needs a fresh data directory (or run 'convoi serve --data %s')", a.DataDir, a.DataDir)
	}
	if a.SealKeyFile == "" { // the demo makes its key, beside its fresh database
		a.SealKeyFile = filepath.Join(a.DataDir, "seal.key")
		if err := seal.CreateKeyFile(a.SealKeyFile); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create seal key: %w", err)
		}
	}
	if err := a.OpenStore(ctx); err != nil {
		return err
	}
	defer a.Close()

	w, err := a.loadDemo(ctx, *password)
	if err != nil {
		return fmt.Errorf("load demo world: %w", err)
	}
	printDemoWorld(env.Stdout, w)
	if err := a.OpenEngines(ctx); err != nil {
		return err
	}
	if err := showRoutes(ctx, env.Stdout, a.Graph, w.Sites["monaco-court"].Entry); err != nil {
		return err
	}

	planner := w.userByName("planner")
	if err := a.showAssessments(convoi.NewContextWithUser(ctx, planner), env.Stdout, w.Incarville, w.Westbound); err != nil {
		return err
	}

	if err := a.showPlan(convoi.NewContextWithUser(ctx, planner), env.Stdout, w.Westbound); err != nil {
		return err
	}

	if err := a.showResponse(ctx, env.Stdout, w); err != nil {
		return fmt.Errorf("response: %w", err)
	}

	if *once {
		return nil
	}
	for _, note := range a.freeListeners() {
		fmt.Fprintln(env.Stdout, note)
	}
	if err := a.Open(ctx); err != nil {
		return err
	}
	printDemoAccess(env.Stdout, a, w, *password, temporary)
	stopLive, err := a.startDemoLive(ctx, env.Stdout, w, live, *password)
	if err != nil {
		return err
	}
	defer stopLive()
	a.Logger.Info("convoi demo serving", "url", a.URL(), "data", a.DataDir)
	<-ctx.Done()
	a.Logger.Info("convoi demo shutting down")
	return nil
}

// loadDemo writes the demo world into the open store.
func (a *App) loadDemo(ctx context.Context, password string) (*demoWorld, error) {
	hash := func(p string) (string, error) { return auth.HashPassword(p, a.PasswordParams) }
	return loadDemoWorld(ctx, demoServices{
		Sites:     a.S.Sites,
		Detainees: a.S.Detainees,
		Intel:     a.S.Intel,
		Movements: a.S.Movements,
		Vehicles:  a.S.Vehicles,
		Officers:  a.S.Officers,
		Trackers:  a.S.Trackers,
		Users:     a.S.Users,
	}, a.Now(), password, hash)
}

func printDemoWorld(out io.Writer, w *demoWorld) {
	fmt.Fprintf(out, "convoi demo world: %d sites, %d officers, %d vehicles, %d trackers, %d detainees, %d movements\n",
		len(w.Sites), len(w.Officers), len(w.Vehicles), len(w.Trackers), len(w.Detainees), len(w.Movements))
	fmt.Fprintf(out, "Map data %s\n\n", osmdata.Attribution)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MOVEMENT\tPURPOSE\tAPPOINTMENT\tFROM\tTO")
	byID := map[int64]string{}
	for _, s := range w.Sites {
		byID[int64(s.ID)] = s.Name
	}
	for _, m := range w.Movements {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Ref, m.Purpose, m.AppointmentAt.In(demoZone()).Format("2006-01-02 15:04 MST"),
			byID[int64(m.FromSiteID)], byID[int64(m.ToSiteID)])
	}
	tw.Flush()
	fmt.Fprintln(out)
}

func printDemoAccess(out io.Writer, a *App, w *demoWorld, password string, temporary bool) {
	fmt.Fprintf(out, "API:  %s/api/v1 (an index; GET %s/healthz answers without a token)\n", a.URL(), a.URL())
	fmt.Fprintf(out, "      every other call needs a token from POST /api/v1/session, the OpenAPI document too: %s/api/v1/openapi.json\n", a.URL())
	if temporary {
		fmt.Fprintf(out, "Data: %s (temporary, removed when the demo stops; --data DIR keeps a demo world)\n", a.DataDir)
	} else {
		fmt.Fprintf(out, "Data: %s\n", a.DataDir)
	}
	fmt.Fprintf(out, "Schedules sealed with %s; audit log in %s (convoi audit verify --data %s)\n", a.SealKeyFile, a.AuditDir(), a.DataDir)
	fmt.Fprintf(out, "Users (password %q):", password)
	for _, u := range w.Users {
		fmt.Fprintf(out, " %s", u.Username)
	}
	fmt.Fprintf(out, "\n\nTry:\n  TOKEN=$(curl -s -X POST %s/api/v1/session -H 'Content-Type: application/json' -d '{\"username\":\"planner\",\"password\":\"%s\"}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n", a.URL(), password)
	fmt.Fprintf(out, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/api/v1/movements\n\nCtrl-C stops the demo.\n", a.URL())
}
