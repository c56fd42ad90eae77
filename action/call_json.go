package action

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/logoutflow/logoutflow/metadata"
)

// maxValueDepth bounds how deeply [Call.MarshalJSON] follows nested
// values, so that a map holding itself cannot loop forever.
const maxValueDepth = 100

// MarshalJSON writes the call as one JSON object whose shape depends on
// its API:
//
//	{"api": "log", "level": "info", "message": "...", "attrs": {...}}
//	{"api": "user.setAppMetadata", "patch": {...}}
//	{"api": "session.setCustomClaim", "key": "...", "value": ...}
//
// each with "error": "..." last when Err is set. Levels are written
// lowercase as [slog.Level.String] names them ("debug", "info", "warn",
// "error", "warn+2"). Attrs become one object in their order, values
// resolved: a group is a nested object, a group with an empty key is
// inlined, an empty group or an empty Attr is left out, and a repeated key
// keeps its last value. Durations are written as [time.Duration.String]
// gives them, times as RFC 3339 with nanoseconds, errors as their message.
//
// MarshalJSON never fails, so that a refused call can still be shown: a
// value that JSON cannot hold (NaN, an infinity, a channel, a function, a
// cycle, a value whose MarshalJSON method fails or panics) is written as
// a string describing it. A call of another API is
// written with "api" and "error" only.
func (c Call) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field("api", quoteJSON(c.API))

	// Each API carries its own fields.
	switch c.API {
	case CallLog:
		w.field("level", quoteJSON(strings.ToLower(c.Level.String())))
		w.field("message", quoteJSON(c.Message))
		w.field("attrs", attrsJSON(c.Attrs, 0))
	case CallSetAppMetadata:
		patch := c.Patch
		if patch == nil {
			patch = metadata.Map{}
		}
		w.field("patch", valueJSON(patch, 0))
	case CallSetCustomClaim:
		w.field("key", quoteJSON(c.Key))
		w.field("value", valueJSON(c.Value, 0))
	}

	// The error goes last, and only when there is one.
	if c.Err != nil {
		w.field("error", quoteJSON(errorText(c.Err)))
	}
	return w.bytes(), nil
}

// objectWriter builds a JSON object field by field, in order.
type objectWriter struct {
	keys []string
	vals [][]byte
}

// field sets key to the JSON text val; a key set again keeps its first
// place and takes the new value.
func (w *objectWriter) field(key string, val []byte) {
	if i := slices.Index(w.keys, key); i >= 0 {
		w.vals[i] = val
		return
	}
	w.keys = append(w.keys, key)
	w.vals = append(w.vals, val)
}

func (w *objectWriter) bytes() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range w.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(quoteJSON(k))
		b.WriteByte(':')
		b.Write(w.vals[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// attrsJSON writes attrs as one object.
func attrsJSON(attrs []slog.Attr, depth int) []byte {
	var w objectWriter
	addAttrs(&w, attrs, depth)
	return w.bytes()
}

// addAttrs adds attrs to w as slog's handlers would show them.
func addAttrs(w *objectWriter, attrs []slog.Attr, depth int) {
	for _, a := range attrs {
		a.Value = a.Value.Resolve()
		if a.Equal(slog.Attr{}) {
			continue
		}
		if a.Value.Kind() != slog.KindGroup {
			w.field(a.Key, slogValueJSON(a.Value, depth))
			continue
		}

		// Groups nest, unless empty (dropped) or unnamed (inlined).
		group := a.Value.Group()
		switch {
		case len(group) == 0:
		case depth >= maxValueDepth:
			w.field(a.Key, quoteJSON("(nested too deep)"))
		case a.Key == "":
			addAttrs(w, group, depth+1)
		default:
			w.field(a.Key, attrsJSON(group, depth+1))
		}
	}
}

// slogValueJSON writes one resolved value that is not a group.
func slogValueJSON(v slog.Value, depth int) []byte {
	switch v.Kind() {
	case slog.KindString:
		return quoteJSON(v.String())
	case slog.KindInt64:
		return fmt.Appendf(nil, "%d", v.Int64())
	case slog.KindUint64:
		return fmt.Appendf(nil, "%d", v.Uint64())
	case slog.KindFloat64:
		return valueJSON(v.Float64(), depth)
	case slog.KindBool:
		return fmt.Appendf(nil, "%t", v.Bool())
	case slog.KindDuration:
		return quoteJSON(v.Duration().String())
	case slog.KindTime:
		return quoteJSON(v.Time().Format(time.RFC3339Nano))
	default:
		if err, ok := v.Any().(error); ok {
			return quoteJSON(errorText(err))
		}
		return valueJSON(v.Any(), depth)
	}
}

// valueJSON writes v as JSON, and what JSON cannot hold as a string that
// describes it.
func valueJSON(v any, depth int) []byte {
	if depth > maxValueDepth {
		return quoteJSON("(nested too deep)")
	}

	// Containers are walked here, so that one bad value spoils only
	// itself and a cycle ends at the depth bound.
	switch v := v.(type) {
	case metadata.Map:
		return mapJSON(v, depth)
	case map[string]any:
		return mapJSON(v, depth)
	case []any:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(valueJSON(e, depth+1))
		}
		b.WriteByte(']')
		return b.Bytes()
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return quoteJSON(fmt.Sprint(v))
		}
	case float32:
		return valueJSON(float64(v), depth)
	}

	// Everything else is a leaf that encoding/json may or may not take.
	// Its type alone names it otherwise: printing it could loop on a
	// cycle.
	b, err := marshalNoEscape(v)
	if err != nil {
		return quoteJSON(fmt.Sprintf("(unencodable %T)", v))
	}
	return b
}

// errorText returns err's message, or a note when its Error method
// panics (as a nil pointer's may).
func errorText(err error) (s string) {
	defer func() {
		if recover() != nil {
			s = "(Error method panicked)"
		}
	}()
	return err.Error()
}

// mapJSON writes m with its keys sorted, as encoding/json does.
func mapJSON(m map[string]any, depth int) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var w objectWriter
	for _, k := range keys {
		w.keys = append(w.keys, k)
		w.vals = append(w.vals, valueJSON(m[k], depth+1))
	}
	return w.bytes()
}

// quoteJSON writes s as a JSON string.
func quoteJSON(s string) []byte {
	b, _ := marshalNoEscape(s) // a string always encodes
	return b
}

// marshalNoEscape is json.Marshal without escaping '<', '>' and '&', so
// that messages read as they were written. A MarshalJSON or MarshalText
// method that panics is an error like any other: encoding/json lets the
// panic through.
func marshalNoEscape(v any) (_ []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("encoding %T panicked: %v", v, p)
		}
	}()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
