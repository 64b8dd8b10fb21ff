package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/convoi/convoi"
)

// DefaultMaxBodyBytes bounds request bodies unless Server.MaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// decodeJSON decodes exactly one JSON object from data into v, strictly:
// unknown fields, wrong types, a non-object (null included: encoding/json
// would leave v as it is, as if {} had been sent) and trailing data are
// EINVALID errors whose message says what is wrong (and where). An empty
// body is EINVALID unless optional, in which case v is left as it is.
func decodeJSON(data []byte, v any, optional bool) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		if optional {
			return nil
		}
		return convoi.Errorf(convoi.EINVALID, "Request body required: a JSON object.")
	}
	if trimmed[0] != '{' {
		return convoi.Errorf(convoi.EINVALID, "Request body must be a JSON object, not %s.", jsonKind(trimmed[0]))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return convoi.Errorf(convoi.EINVALID, "Unexpected data after the JSON object (at byte %d).", dec.InputOffset())
	}
	return nil
}

// jsonError turns an encoding/json error into a message for the client.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tpe *time.ParseError
	switch {
	case errors.As(err, &syn):
		return convoi.Errorf(convoi.EINVALID, "Malformed JSON at byte %d: %s.", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return convoi.Errorf(convoi.EINVALID, "Malformed JSON: unexpected end of input.")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return convoi.Errorf(convoi.EINVALID, "Request body must be a JSON object, not %s.", typ.Value)
		}
		return convoi.Errorf(convoi.EINVALID, "Field %q must be %s, not %s.", typ.Field, kindName(typ.Type), typ.Value)
	case errors.As(err, &tpe):
		return convoi.Errorf(convoi.EINVALID, "Times must be RFC 3339 strings such as \"2026-03-02T09:30:00Z\".")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return convoi.Errorf(convoi.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	var me *http.MaxBytesError
	if errors.As(err, &me) {
		return tooLarge(me.Limit)
	}
	return convoi.Errorf(convoi.EINVALID, "Invalid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON value that starts with c.
func jsonKind(c byte) string {
	switch {
	case c == 'n':
		return "null"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "malformed JSON"
}

func tooLarge(limit int64) error {
	return withStatus(http.StatusRequestEntityTooLarge, convoi.EINVALID, "Request body too large (at most %d bytes).", limit)
}

// kindName describes a Go type the way a JSON client thinks of it.
func kindName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return kindName(t.Elem())
	}
	return t.String()
}

// readBody reads the whole request body (already limited by the server) and
// checks its content type.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, withStatus(http.StatusUnsupportedMediaType, convoi.EINVALID, "Content-Type must be application/json.")
		}
	}
	data, err := io.ReadAll(r.Body)
	var me *http.MaxBytesError
	if errors.As(err, &me) {
		return nil, tooLarge(me.Limit)
	} else if err != nil {
		return nil, convoi.Errorf(convoi.EINVALID, "Cannot read request body.")
	}
	return data, nil
}

// decodeBody decodes the request body strictly into v (see decodeJSON).
func decodeBody(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(data, v, false)
}

// decodeOptionalBody is decodeBody for actions whose body may be empty.
func decodeOptionalBody(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(data, v, true)
}

// query reads URL query parameters strictly: a parameter that no call asked
// for, a repeated one or a malformed value makes Err return EINVALID.
type query struct {
	v    url.Values
	seen map[string]bool
	err  error
}

func newQuery(r *http.Request) *query {
	q := &query{v: r.URL.Query(), seen: map[string]bool{}}
	return q
}

func (q *query) fail(format string, args ...any) {
	if q.err == nil {
		q.err = convoi.Errorf(convoi.EINVALID, format, args...)
	}
}

// get returns the raw value of name, or "" and false.
func (q *query) get(name string) (string, bool) {
	q.seen[name] = true
	vs, ok := q.v[name]
	if !ok {
		return "", false
	}
	if len(vs) != 1 {
		q.fail("Query parameter %q given more than once.", name)
		return "", false
	}
	return vs[0], true
}

func (q *query) String(name string) *string {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	if len(s) > 200 {
		q.fail("Query parameter %q too long.", name)
		return nil
	}
	return &s
}

func (q *query) Int64(name string) *int64 {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		q.fail("Query parameter %q must be a positive integer.", name)
		return nil
	}
	return &n
}

func (q *query) Bool(name string) *bool {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.fail("Query parameter %q must be true or false.", name)
		return nil
	}
	return &b
}

func (q *query) Time(name string) *time.Time {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail("Query parameter %q must be an RFC 3339 time such as 2026-03-02T09:30:00Z.", name)
		return nil
	}
	return &t
}

func (q *query) Float(name string) (float64, bool) {
	s, ok := q.get(name)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		q.fail("Query parameter %q must be a number.", name)
		return 0, false
	}
	return f, true
}

// LatLon reads "lat,lon" and checks its range.
func (q *query) LatLon(name string) *convoi.LatLon {
	s, ok := q.get(name)
	if !ok {
		return nil
	}
	p, err := parseLatLon(s)
	if err != nil {
		q.fail("Query parameter %q: %s", name, convoi.ErrorMessage(err))
		return nil
	}
	return &p
}

func parseLatLon(s string) (convoi.LatLon, error) {
	a, b, ok := strings.Cut(s, ",")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if !ok || err1 != nil || err2 != nil {
		return convoi.LatLon{}, convoi.Errorf(convoi.EINVALID, "A position is written LAT,LON in degrees, such as 43.7302,7.4222.")
	}
	p := convoi.LatLon{Lat: lat, Lon: lon}
	return p, p.Validate()
}

// Page reads offset and limit; limit above convoi.MaxPageLimit is an error
// rather than silently cut, so that a client never believes it has all rows.
func (q *query) Page() convoi.Page {
	var p convoi.Page
	if s, ok := q.get("offset"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			q.fail("Query parameter \"offset\" must be a non-negative integer.")
		}
		p.Offset = n
	}
	if s, ok := q.get("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > convoi.MaxPageLimit {
			q.fail("Query parameter \"limit\" must be an integer from 1 to %d.", convoi.MaxPageLimit)
		}
		p.Limit = n
	}
	return p.Normalize()
}

// Err returns the first error, or an error naming a parameter nobody asked for.
func (q *query) Err() error {
	if q.err != nil {
		return q.err
	}
	for k := range q.v {
		if !q.seen[k] {
			return convoi.Errorf(convoi.EINVALID, "Unknown query parameter %q.", k)
		}
	}
	return nil
}

// pathID parses the {id} path value as a positive integer.
func pathID(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, convoi.Errorf(convoi.EINVALID, "The id in the path must be a positive integer.")
	}
	return n, nil
}

// enumParam reads an enumerated query value and validates it.
func enumParam[T ~string](q *query, name string, valid func(T) bool, all []T) *T {
	s := q.String(name)
	if s == nil {
		return nil
	}
	v := T(*s)
	if !valid(v) {
		names := make([]string, len(all))
		for i, a := range all {
			names[i] = string(a)
		}
		q.fail("Query parameter %q must be one of %s.", name, strings.Join(names, ", "))
		return nil
	}
	return &v
}

// idParam reads a positive integer query value as a named ID type.
func idParam[T ~int64](q *query, name string) *T {
	n := q.Int64(name)
	if n == nil {
		return nil
	}
	v := T(*n)
	return &v
}
