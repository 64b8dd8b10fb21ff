package convoi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/convoi/convoi"
)

func TestEscortLevelValidate(t *testing.T) {
	for l := convoi.EscortLevel(-1); l <= 6; l++ {
		want := l >= 1 && l <= 4
		if got := l.Valid(); got != want {
			t.Errorf("EscortLevel(%d).Valid() = %v, want %v", l, got, want)
		}
		err := l.Validate()
		if (err == nil) != want {
			t.Errorf("EscortLevel(%d).Validate() = %v", l, err)
		}
		if err != nil && convoi.ErrorCode(err) != convoi.EINVALID {
			t.Errorf("EscortLevel(%d).Validate() code %q, want EINVALID", l, convoi.ErrorCode(err))
		}
	}
}

// The escort level stays a plain integer on the wire.
func TestEscortLevelJSON(t *testing.T) {
	b, err := json.Marshal(convoi.Assessment{Level: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"level":3,`) {
		t.Errorf("assessment JSON %s lacks \"level\":3", b)
	}
	var upd struct {
		EscortLevel *convoi.EscortLevel `json:"escort_level"`
	}
	if err := json.Unmarshal([]byte(`{"escort_level":4}`), &upd); err != nil || upd.EscortLevel == nil || *upd.EscortLevel != 4 {
		t.Errorf("decode escort_level 4: %v, %v", upd.EscortLevel, err)
	}
	if err := json.Unmarshal([]byte(`{"escort_level":"4"}`), &upd); err == nil {
		t.Errorf("a string escort_level was accepted")
	}
}
