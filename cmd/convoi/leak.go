package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/audit"
	"github.com/convoi/convoi/leak"
	"github.com/convoi/convoi/web"
)

func runLeak(ctx context.Context, env *Env, args []string) error {
	return runGroup(ctx, env, "leak", []command{
		{"trace", "rank the recipients who could have leaked the facts seen", runLeakTrace},
	}, args)
}

// runLeakTrace: convoi leak trace [--data DIR] [--movement REF]
// [--window-start TIME] [--window-end TIME] [--code CODE] [--format text|json]
//
// The offline twin of POST /api/v1/leaks/trace: it ranks the recipients
// whose recorded arrival variant shares the facts seen in a leak, and lists
// who read the movement's exact schedule according to the audit log.
func runLeakTrace(ctx context.Context, env *Env, args []string) error {
	a := NewApp()
	fs := newFlagSet(env, "leak trace")
	fs.StringVar(&a.DataDir, "data", envDefault(env, "CONVOI_DATA", a.DataDir), "data directory holding the database (CONVOI_DATA)")
	ref := fs.String("movement", "", "the movement the leak is about, when known (its ref)")
	start := fs.String("window-start", "", "start of the arrival window seen (RFC 3339)")
	end := fs.String("window-end", "", "end of the arrival window seen (RFC 3339)")
	code := fs.String("code", "", "handover code seen")
	format := fs.String("format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return fmt.Errorf("--format %q: want text or json", *format)
	}
	var f leak.Facts
	f.Code = *code
	for _, x := range []struct {
		flag, v string
		dst     **time.Time
	}{{"window-start", *start, &f.WindowStart}, {"window-end", *end, &f.WindowEnd}} {
		if x.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, x.v)
		if err != nil {
			return fmt.Errorf("--%s %q: want an RFC 3339 time such as 2026-05-14T10:05:00+02:00", x.flag, x.v)
		}
		*x.dst = &t
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%s (--window-start, --window-end, --code)", convoi.ErrorMessage(err))
	}
	if err := a.OpenExistingStore(ctx); err != nil {
		return err
	}
	defer a.Close()
	if *ref != "" {
		ms, _, err := a.DBMovements().FindMovements(ctx, convoi.MovementFilter{Ref: ref})
		if err != nil {
			return err
		}
		if len(ms) != 1 {
			return fmt.Errorf("no movement %q in %s", *ref, a.absDataDir())
		}
		f.MovementID = ms[0].ID
	}
	var nf convoi.NoticeFilter
	if f.MovementID != 0 {
		nf.MovementID = &f.MovementID
	}
	ns, err := a.S.Notices.FindNotices(ctx, nf)
	if err != nil {
		return err
	}
	cs, err := leak.Trace(f, ns)
	if err != nil {
		return err
	}
	readers, why, err := a.scheduleReaders()
	if err != nil {
		return err
	}
	ids := map[convoi.MovementID]bool{}
	if f.MovementID != 0 {
		ids[f.MovementID] = true
	}
	for _, c := range cs {
		ids[c.Notice.MovementID] = true
	}
	reads := map[convoi.MovementID][]web.ScheduleRead{}
	if readers != nil {
		for id := range ids {
			if reads[id], err = readers.ScheduleReaders(ctx, id); err != nil {
				return fmt.Errorf("audit log: %w", err)
			}
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"candidates": cs, "schedule_readers": reads, "audit_log": readers != nil})
	}
	if len(cs) == 0 {
		fmt.Fprintln(env.Stdout, "No recipient was given these facts.")
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RANK\tSCORE\tMOVEMENT\tRECIPIENT\tMATCHED\tISSUED")
		for i, c := range cs {
			fmt.Fprintf(tw, "%d\t%.2f\t%d\t%s\t%s\t%s\n", i+1, c.Score, c.Notice.MovementID, c.Notice.Recipient,
				strings.Join(c.Matched, ","), c.Notice.IssuedAt.Format(time.RFC3339))
		}
		tw.Flush()
	}
	if readers == nil {
		fmt.Fprintf(env.Stdout, "\nWho read the exact schedule: %s.\n", why)
		return nil
	}
	for id := range ids {
		fmt.Fprintf(env.Stdout, "\nRead the exact schedule of movement %d:\n", id)
		for _, r := range reads[id] {
			fmt.Fprintf(env.Stdout, "  %s  %s (user %d, %s)  %s  %s  [audit #%d]\n", r.At.Format(time.RFC3339), r.Username, r.UserID, r.Role,
				r.Op, strings.Join(r.Fields, ","), r.Seq)
		}
		if len(reads[id]) == 0 {
			fmt.Fprintln(env.Stdout, "  nobody on record")
		}
	}
	return nil
}

// scheduleReaders opens the data directory's audit log for leak tracing.
// When there is none, or the running server holds it, it returns nil and
// says why (the API's POST /api/v1/leaks/trace then answers in full).
func (a *App) scheduleReaders() (web.ScheduleReaders, string, error) {
	if _, err := os.Stat(filepath.Join(a.AuditDir(), audit.EntriesFile)); err != nil {
		return nil, "no audit log in this data directory", nil
	}
	l := audit.New(a.AuditDir())
	if a.AuditKeyFile != "" {
		l.SignerKeyFile = a.AuditKeyFile
	}
	l.Now = a.Now
	if err := l.Open(); err != nil {
		if strings.Contains(err.Error(), "in use") {
			return nil, "the audit log is in use by the running server; POST /api/v1/leaks/trace answers with it", nil
		}
		return nil, "", err
	}
	a.closers = append(a.closers, l.Close)
	return web.AuditScheduleReaders(l), "", nil
}
