package sqlstore

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// FuzzAppendAttributes checks the hand encoder against encoding/json, byte
// for byte, on the value types it encodes itself (strings, booleans,
// integers of every width it knows, floats, nil) and on whatever
// encoding/json decodes from raw (nested objects and arrays, which the
// encoder hands to json.Marshal). Both must fail on the same inputs.
func FuzzAppendAttributes(f *testing.F) {
	// More seeds in testdata/fuzz/FuzzAppendAttributes.
	f.Add("nan", "", true, int64(0), uint64(0), math.NaN(), []byte(`{}`))
	f.Add("inf", "", true, int64(0), uint64(0), math.Inf(-1), []byte(`{}`))
	f.Add("tiny", "", true, int64(0), uint64(0), 5e-324, []byte(`{}`))
	f.Fuzz(func(t *testing.T, key, s string, b bool, i int64, u uint64, fl float64, raw []byte) {
		maps := []map[string]any{
			{key: s},
			{key + "b": b, key + "n": nil},
			{"i": int(i), "i64": i, "i32": int32(i), "u64": u, "u32": uint32(u)},
			{key: fl, "s": s, "z": -fl},
			{key: []any{s, fl, i}, "m": map[string]any{s: u}}, // through json.Marshal
		}
		var decoded map[string]any
		if json.Unmarshal(raw, &decoded) == nil && decoded != nil {
			maps = append(maps, decoded)
		}
		for _, m := range maps {
			want, wantErr := json.Marshal(m)
			got, err := AppendAttributes([]byte("prefix"), m)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%#v: error %v, encoding/json's %v", m, err, wantErr)
			}
			if err != nil {
				continue
			}
			if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
				t.Fatalf("%#v:\n got %s\nwant %s", m, got[len("prefix"):], want)
			}
		}
	})
}
