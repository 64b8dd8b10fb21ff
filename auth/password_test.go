package auth_test

import (
	"strings"
	"testing"

	"github.com/convoi/convoi/auth"
)

func TestHashPassword_RoundTrip(t *testing.T) {
	h, err := auth.HashPassword("correct horse", auth.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("not a PHC argon2id string: %q", h)
	}
	if ok, err := auth.VerifyPassword(h, "correct horse"); err != nil || !ok {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	if ok, err := auth.VerifyPassword(h, "correct horsf"); err != nil || ok {
		t.Fatalf("wrong password: ok=%v err=%v", ok, err)
	}
	h2, _ := auth.HashPassword("correct horse", auth.TestParams)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestDefaultParams_Strong(t *testing.T) {
	p := auth.DefaultParams
	if p.Memory < 19*1024 || p.Time < 2 || p.KeyLen < 32 || p.SaltLen < 16 {
		t.Fatalf("DefaultParams below OWASP minimum: %+v", p)
	}
}

func TestVerifyPassword_Malformed(t *testing.T) {
	good, _ := auth.HashPassword("pw-12345", auth.TestParams)
	parts := strings.Split(good, "$")
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"version", strings.Replace(good, "v=19", "v=16", 1)},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5]},
		{"huge time", "$argon2id$v=19$m=64,t=100000,p=1$" + parts[4] + "$" + parts[5]},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5]},
		{"unknown param", "$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5]},
		{"bad salt", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + parts[5]},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA"},
		{"extra field", good + "$x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(tc.hash, "pw-12345")
			if err == nil || ok {
				t.Fatalf("ok=%v err=%v, want an error", ok, err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	h, _ := auth.HashPassword("pw-12345", auth.TestParams)
	if auth.NeedsRehash(h, auth.TestParams) {
		t.Error("same params: want no rehash")
	}
	if !auth.NeedsRehash(h, auth.DefaultParams) {
		t.Error("other params: want rehash")
	}
	if !auth.NeedsRehash("garbage", auth.TestParams) {
		t.Error("garbage: want rehash")
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{"12345678", true},
		{"convoi-demo", true},
		{strings.Repeat("x", auth.MaxPasswordLen), true},
		{strings.Repeat("x", auth.MaxPasswordLen+1), false},
	} {
		if err := auth.ValidatePassword(tc.pw); (err == nil) != tc.ok {
			t.Errorf("ValidatePassword(len %d) = %v, want ok=%v", len(tc.pw), err, tc.ok)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, err := auth.NewSecret(auth.APIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := auth.NewSecret(auth.APIPrefix)
	if a == b || !strings.HasPrefix(a, auth.APIPrefix) || len(a) != len(auth.APIPrefix)+43 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if string(auth.HashSecret(a)) == string(auth.HashSecret(b)) || len(auth.HashSecret(a)) != 32 {
		t.Fatal("HashSecret")
	}
}

func FuzzVerifyPassword(f *testing.F) {
	good, _ := auth.HashPassword("pw-12345", auth.TestParams)
	f.Add(good, "pw-12345")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$", "")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		// Must never panic, nor accept a hash it cannot parse.
		ok, err := auth.VerifyPassword(hash, pw)
		if err != nil && ok {
			t.Fatal("ok with an error")
		}
	})
}
