package avro

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// SchemaOf returns the Avro schema, as JSON, of a record of type T, which must be a struct (see
// the package doc for how Go types map to Avro types). It reports the first field it cannot map,
// by its path from T.
func SchemaOf[T any]() (string, error) {
	return schemaOf(reflect.TypeFor[T](), "")
}

// schemaOf derives t's schema, naming the top record name when name is not empty: a fully
// qualified name (com.example.Bid) sets its namespace too.
func schemaOf(t reflect.Type, name string) (string, error) {
	if t.Kind() != reflect.Struct {
		return "", fmt.Errorf("avro: schema of %s: a record must be a struct", t)
	}
	d := deriver{named: map[reflect.Type]string{}, names: map[string]reflect.Type{}, top: name}
	s, err := d.of(t, t.Name())
	if err != nil {
		return "", fmt.Errorf("avro: schema of %s: %w", t, err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("avro: schema of %s: %w", t, err)
	}
	return string(b), nil
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	bytesType     = reflect.TypeFor[[]byte]()
	validName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	validFullName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// deriver builds schemas as JSON-marshalable values. A struct type gets its definition the
// first time it is met and is referred to by name after that, as Avro requires (this is also
// what makes recursive types work).
type deriver struct {
	named map[reflect.Type]string // struct types defined so far, by their Avro name
	names map[string]reflect.Type // the reverse, to tell two Go types with one name apart
	top   string                  // the top record's name, if not its Go type's
}

// field is one field of a record schema. Default is set only when hasDefault is, since null is
// a default of its own.
type field struct {
	Name       string
	Type       any
	Default    any
	hasDefault bool
}

// MarshalJSON writes the field with "default" only when it has one.
func (f field) MarshalJSON() ([]byte, error) {
	m := map[string]any{"name": f.Name, "type": f.Type}
	if f.hasDefault {
		m["default"] = f.Default
	}
	return json.Marshal(m)
}

// of returns the schema of t; path names it in errors.
func (d *deriver) of(t reflect.Type, path string) (any, error) {
	switch t {
	case timeType:
		return map[string]any{"type": "long", "logicalType": "timestamp-millis"}, nil
	case bytesType:
		return "bytes", nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean", nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return "int", nil
	case reflect.Int, reflect.Int64, reflect.Uint32:
		return "long", nil
	case reflect.Float32:
		return "float", nil
	case reflect.Float64:
		return "double", nil
	case reflect.String:
		return "string", nil
	case reflect.Pointer:
		if t.Elem().Kind() == reflect.Pointer {
			return nil, fmt.Errorf("%s: a pointer to a pointer has no Avro type", path)
		}
		elem, err := d.of(t.Elem(), path)
		if err != nil {
			return nil, err
		}
		return []any{"null", elem}, nil
	case reflect.Array:
		return nil, fmt.Errorf("%s: array type %s: use a slice for an Avro array", path, t)
	case reflect.Slice:
		items, err := d.of(t.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: map key type %s: Avro map keys are strings", path, t.Key())
		}
		values, err := d.of(t.Elem(), path+"[key]")
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "map", "values": values}, nil
	case reflect.Struct:
		return d.record(t, path)
	}
	return nil, fmt.Errorf("%s: type %s has no Avro type", path, t)
}

// record returns the definition of struct type t, or its name if it was defined before.
func (d *deriver) record(t reflect.Type, path string) (any, error) {
	if name, ok := d.named[t]; ok {
		return name, nil
	}
	name := t.Name()
	if len(d.named) == 0 && d.top != "" {
		name = d.top
	} else if name == "" {
		name = "record"
	}
	if i := strings.IndexByte(name, '['); i >= 0 { // a generic type: Pair[int,string]
		name = name[:i]
	}
	if !validName.MatchString(name) && (name != d.top || !validFullName.MatchString(name)) {
		name = "record"
	}
	for base, n := name, 2; d.names[name] != nil; n++ {
		name = fmt.Sprintf("%s%d", base, n)
	}
	d.named[t] = name
	d.names[name] = t
	fields := []field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() || sf.Anonymous {
			if sf.Anonymous {
				return nil, fmt.Errorf("%s.%s: embedded structs are not supported; name the field", path, sf.Name)
			}
			continue
		}
		fname := sf.Name
		if tag, ok := sf.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" && !strings.HasPrefix(tag, "-,") {
				continue
			}
			if n != "" {
				fname = n
			}
		}
		fpath := path + "." + sf.Name
		if !validName.MatchString(fname) {
			return nil, fmt.Errorf("%s: %q is not a valid Avro field name (letters, digits and _, not starting with a digit)", fpath, fname)
		}
		ft, err := d.of(sf.Type, fpath)
		if err != nil {
			return nil, err
		}
		f := field{Name: fname, Type: ft}
		f.Default, f.hasDefault = zeroDefault(sf.Type)
		fields = append(fields, f)
	}
	return map[string]any{"type": "record", "name": name, "fields": fields}, nil
}

// zeroDefault returns the Avro default that decodes to the zero value of t, for the types that
// have one that simple: null for pointers, zero for numbers, empty for strings, bytes, arrays and
// maps. Records and timestamps get none (the zero time.Time is not the epoch).
func zeroDefault(t reflect.Type) (any, bool) {
	if t == timeType {
		return nil, false
	}
	if t == bytesType {
		return "", true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nil, true
	case reflect.Bool:
		return false, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Float32, reflect.Float64:
		return 0, true
	case reflect.String:
		return "", true
	case reflect.Slice:
		return []any{}, true
	case reflect.Map:
		return map[string]any{}, true
	}
	return nil, false
}
