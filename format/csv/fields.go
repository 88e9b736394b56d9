package csv

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// timeLayout says how a time.Time field is written.
type timeLayout uint8

const (
	rfc3339 timeLayout = iota
	epochMillis
)

// field is one mapped struct field, resolved at construction.
type field struct {
	name   string // column name
	goName string // for messages
	index  int
	typ    reflect.Type
	kind   reflect.Kind
	time   timeLayout
	isTime bool
	// text is set when the field's pointer implements encoding.TextUnmarshaler (decoders) or
	// the field implements encoding.TextMarshaler (encoders).
	text bool
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// fieldsOf maps T's exported fields to columns. decode selects which text interface makes a
// type supported.
func fieldsOf[T any](decode bool) ([]field, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("type %s is not a struct", t)
	}
	var out []field
	seen := map[string]string{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("csv")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = sf.Name
		}
		f := field{name: name, goName: t.String() + "." + sf.Name, index: i, typ: sf.Type, kind: sf.Type.Kind()}
		switch {
		case sf.Type == timeType:
			f.isTime = true
		case decode && reflect.PointerTo(sf.Type).Implements(textUnmarshalerType),
			!decode && sf.Type.Implements(textMarshalerType):
			f.text = true
		default:
			switch f.kind {
			case reflect.String, reflect.Bool,
				reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
				reflect.Float32, reflect.Float64:
			default:
				return nil, fmt.Errorf("field %s of type %s is not supported (want string, bool, an integer, a float, time.Time or an encoding.Text(Un)Marshaler)",
					f.goName, sf.Type)
			}
		}
		switch opts {
		case "":
		case "epochms":
			if !f.isTime {
				return nil, fmt.Errorf("field %s: tag option epochms needs a time.Time, not %s", f.goName, sf.Type)
			}
			f.time = epochMillis
		case "rfc3339":
			if !f.isTime {
				return nil, fmt.Errorf("field %s: tag option rfc3339 needs a time.Time, not %s", f.goName, sf.Type)
			}
		default:
			return nil, fmt.Errorf("field %s: unknown tag option %q (want epochms or rfc3339)", f.goName, opts)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("fields %s and %s both map to column %q", prev, f.goName, name)
		}
		seen[name] = f.goName
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("type %s has no exported fields to map", t)
	}
	return out, nil
}
