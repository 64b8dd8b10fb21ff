package audit_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/audit"
)

var verifyEntries = flag.Int("verify-entries", 1_000_000, "entries in BenchmarkVerify's log")

// BenchmarkAppend measures Append as the API calls it: from parallel
// goroutines, with the writer group-committing behind. p99 is per call.
func BenchmarkAppend(b *testing.B) {
	l := audit.New(b.TempDir())
	if err := l.Open(); err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			e := entry(i)
			t := time.Now()
			if err := l.Append(e); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
			i++
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	if err := l.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkSustained appends at a paced 10,000 entries/s for b.N entries
// (use -benchtime=50000x for 5 s) with the default one-second checkpoint
// interval, and reports the rate achieved, the p99 of Append, and the
// longest gap between checkpoints.
func BenchmarkSustained(b *testing.B) {
	const rate = 10_000
	l := audit.New(b.TempDir())
	if err := l.Open(); err != nil {
		b.Fatal(err)
	}
	var gaps []time.Duration
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // watch checkpoints
		defer close(done)
		last, lastAt := int64(0), time.Now()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, size := l.Checkpoint(); size != last {
				gaps = append(gaps, time.Since(lastAt))
				last, lastAt = size, time.Now()
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		e := entry(i)
		t := time.Now()
		if err := l.Append(e); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	if err := l.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	time.Sleep(1100 * time.Millisecond) // let the last checkpoint land
	close(stop)
	<-done
	b.StopTimer()
	l.Close()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	if len(gaps) > 1 {
		b.ReportMetric(float64(slices.Max(gaps[1:]).Milliseconds()), "max-cp-gap-ms")
	}
	reportLatency(b, lat)
}

// BenchmarkVerify verifies a log of -verify-entries entries (built once,
// not timed) with a checkpoint every 10,000 entries.
func BenchmarkVerify(b *testing.B) {
	dir := filepath.Join(os.TempDir(), "convoi-audit-bench-verify")
	if rep, err := audit.Verify(dir, audit.VerifyOptions{}); err != nil || rep.Entries != int64(*verifyEntries) {
		os.RemoveAll(dir)
		l := audit.New(dir)
		l.CheckpointInterval = time.Hour
		if err := l.Open(); err != nil {
			b.Fatal(err)
		}
		for i := range *verifyEntries {
			if err := l.Append(entry(i)); err != nil {
				b.Fatal(err)
			}
			if (i+1)%10_000 == 0 {
				if _, err := l.CheckpointNow(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
	st, _ := os.Stat(filepath.Join(dir, audit.EntriesFile))
	b.SetBytes(st.Size())
	b.ResetTimer()
	for range b.N {
		rep, err := audit.Verify(dir, audit.VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.CheckedSize != int64(*verifyEntries) {
			b.Fatalf("checked %d", rep.CheckedSize)
		}
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-us")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds())/1000, "max-us")
}

// BenchmarkOpen opens the log BenchmarkVerify built: the start-up cost of
// checking every entry's hash (timed), then waits for the background index
// (index-wait-s: how long an auditor's first indexed query would wait).
func BenchmarkOpen(b *testing.B) {
	dir := filepath.Join(os.TempDir(), "convoi-audit-bench-verify")
	if _, err := os.Stat(filepath.Join(dir, audit.EntriesFile)); err != nil {
		b.Skip("run BenchmarkVerify first")
	}
	var index time.Duration
	for range b.N {
		l := audit.New(dir)
		l.CheckpointInterval = time.Hour
		if err := l.Open(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t := time.Now()
		u := convoi.UserID(1)
		if _, err := l.FindAuditEntries(context.Background(), convoi.AuditFilter{UserID: &u, Limit: 1}); err != nil {
			b.Fatal(err)
		}
		index += time.Since(t) // the rest of the background index build
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(index.Seconds()/float64(b.N), "index-wait-s")
}
