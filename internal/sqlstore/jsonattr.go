package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/convoi/convoi"
)

// AppendAttributes appends m as a JSON object to b, byte for byte what
// json.Marshal writes (keys sorted, HTML-safe escaping), without its
// reflection for the value types the tracker produces (strings, booleans,
// integers, floats, nil); other values go through json.Marshal. It fails
// as json.Marshal does (NaN, infinities, unsupported types).
func AppendAttributes(b []byte, m map[string]any) ([]byte, error) {
	var keyBuf [32]string
	keys := keyBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			break // json.Marshal's error
		}
		// encoding/json's float format: shortest, 'e' only for very
		// small or large magnitudes, with the exponent's leading zero cut.
		f := byte('f')
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
			f = 'e'
		}
		b = strconv.AppendFloat(b, v, f, -1, 64)
		if f == 'e' {
			if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
				b[n-2] = b[n-1]
				b = b[:n-1]
			}
		}
		return b, nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendJSONString quotes s as json.Marshal does; strings of plain ASCII
// (the IO map's attribute names, most values) are copied as they are.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// MaxPositionBatch bounds one StorePositions call (positions plus events),
// so that one caller cannot hold a writer for long.
const MaxPositionBatch = 10000

// PrepareBatch checks a StorePositions batch before anything is written:
// its size, then every position and event (a bad record is EINVALID naming
// its index). It returns each position's attributes as JSON ("" for none):
// the whole batch is encoded into one buffer and converted to one string,
// which each record's JSON slices, so that ingest allocates once per batch,
// not per record.
func PrepareBatch(ps []convoi.Position, evs []convoi.DeviceEvent) ([]string, error) {
	if len(ps)+len(evs) > MaxPositionBatch {
		return nil, convoi.Errorf(convoi.EINVALID, "A batch holds at most %d records.", MaxPositionBatch)
	}
	var (
		attrs = make([]string, len(ps))
		ends  = make([]int, len(ps))
		buf   []byte
	)
	for i := range ps {
		p := &ps[i]
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("position %d: %w", i, err)
		}
		if len(p.Attributes) > 0 {
			var err error
			if buf, err = AppendAttributes(buf, p.Attributes); err != nil {
				return nil, convoi.Errorf(convoi.EINVALID, "Position %d attributes cannot be stored: %v.", i, err)
			}
		}
		ends[i] = len(buf)
	}
	if len(buf) > 0 {
		all, start := string(buf), 0
		for i, end := range ends {
			attrs[i], start = all[start:end], end
		}
	}
	for i := range evs {
		if err := evs[i].Validate(); err != nil {
			return nil, fmt.Errorf("device event %d: %w", i, err)
		}
	}
	return attrs, nil
}
