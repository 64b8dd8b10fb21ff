package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/convoi/convoi"
	"github.com/convoi/convoi/auth"
	"github.com/convoi/convoi/web"
)

// BenchmarkLoginUnderFlood measures one real login (argon2id at the
// production parameters, from 127.0.0.2) while 30 clients on 127.0.0.1
// send bogus logins as fast as they are answered (issue 12 E1: before the
// throttle, 30 of them pushed a real login from 80 ms to 2.9 s).
func BenchmarkLoginUnderFlood(b *testing.B) {
	for _, flood := range []int{0, 30} {
		b.Run(map[int]string{0: "quiet", 30: "flood30"}[flood], func(b *testing.B) {
			w := MustOpenWorld(b, func(s *web.Server) { s.PasswordParams = auth.DefaultParams })
			hash, err := auth.HashPassword("the-real-password", auth.DefaultParams)
			w.must(err)
			w.must(w.srv.UserService.CreateUser(context.Background(), &convoi.User{Username: "realuser", Role: convoi.RoleControl, PasswordHash: hash}))
			post := func(c *http.Client, user, pw string) int {
				body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
				resp, err := c.Post(w.srv.URL()+"/api/v1/session", "application/json", bytes.NewReader(body))
				if err != nil {
					return 0
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i := range flood {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ctx.Err() == nil; n++ {
						post(http.DefaultClient, "bogus"+itoa(int64(i*1_000_000+n)), "wrong-password")
					}
				}()
			}
			real := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
				LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
			b.ResetTimer()
			refused := 0
			for range b.N {
				// A client retries a 503 or 429 after its Retry-After (1 s);
				// the time per op is the time until the user is in.
				for try := 0; ; try++ {
					st := post(real, "realuser", "the-real-password")
					if st == http.StatusOK {
						break
					}
					if (st != http.StatusServiceUnavailable && st != http.StatusTooManyRequests) || try == 30 {
						b.Fatalf("real login: %d", st)
					}
					refused++
					time.Sleep(time.Second)
				}
			}
			b.ReportMetric(float64(refused)/float64(b.N), "retries/op")
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}
