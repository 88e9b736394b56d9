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
	members, err := membersOf(t, path)
	if err != nil {
		return nil, err
	}
	fields := []field{}
	for _, m := range members {
		if !validName.MatchString(m.name) {
			return nil, fmt.Errorf("%s: %q is not a valid Avro field name (letters, digits and _, not starting with a digit)", m.path, m.name)
		}
		ft, err := d.of(m.typ, m.path)
		if err != nil {
			return nil, err
		}
		f := field{Name: m.name, Type: ft}
		f.Default, f.hasDefault = zeroDefault(m.typ)
		fields = append(fields, f)
	}
	return map[string]any{"type": "record", "name": name, "fields": fields}, nil
}

// member is a field of a record as derived from a struct: a field of the struct or of a struct
// embedded in it.
type member struct {
	name  string       // the Avro field name
	typ   reflect.Type // the Go field's type
	path  string       // "Order.Base.ID", for errors
	depth int          // how many embedded structs down
}

// membersOf returns the fields of struct type t as hamba/avro maps them with the "json" tag
// key, in encoding/json's order, or an error where the two libraries would map t differently:
//
//   - A tag without a name (json:",omitempty") makes encoding/json use the Go name and
//     hamba/avro the empty name, so such a field would never be written or read.
//   - Both promote the fields of an embedded struct. hamba/avro does so whatever the embedded
//     field's tag and fails to encode through a nil embedded pointer, and it leaves out an
//     embedded type that is not a struct, which encoding/json names after the type; none of
//     these is accepted.
//   - A name that two fields share at one depth is left out by encoding/json and taken from
//     the first by hamba/avro, so it is an error; at different depths both take the shallower.
func membersOf(t reflect.Type, path string) ([]member, error) {
	var all []member
	if err := collect(t, path, 0, &all); err != nil {
		return nil, err
	}
	first := map[string]int{} // name → index in all of the shallowest field so named
	for i, m := range all {
		j, ok := first[m.name]
		switch {
		case !ok || m.depth < all[j].depth:
			first[m.name] = i
		case m.depth == all[j].depth:
			return nil, fmt.Errorf("%s and %s are both named %q; rename one in its json tag", all[j].path, m.path, m.name)
		}
	}
	out := make([]member, 0, len(first))
	for i, m := range all {
		if first[m.name] == i {
			out = append(out, m)
		}
	}
	return out, nil
}

// collect appends the fields of struct type t, depth embedded structs down, to all.
func collect(t reflect.Type, path string, depth int, all *[]member) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		fpath := path + "." + sf.Name
		tag, tagged := sf.Tag.Lookup("json")
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous {
			ft := sf.Type
			switch {
			case tagged:
				return fmt.Errorf("%s: an embedded field with a json tag: hamba/avro promotes its fields whatever the tag says; remove the tag or name the field", fpath)
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
				return fmt.Errorf("%s: an embedded pointer: a nil one cannot be encoded; embed the struct itself or name the field", fpath)
			case ft.Kind() == reflect.Struct:
				if err := collect(ft, fpath, depth+1, all); err != nil {
					return err
				}
			case sf.IsExported():
				return fmt.Errorf("%s: an embedded %s: hamba/avro leaves out embedded types that are not structs; name the field", fpath, ft)
			}
			continue
		}
		if !sf.IsExported() || tagged && tag == "-" {
			continue
		}
		if !tagged {
			name = sf.Name
		} else if name == "" {
			return fmt.Errorf("%s: the json tag %q has no name, which hamba/avro reads as the name \"\"; write json:\"%s%s\"", fpath, tag, sf.Name, tag)
		}
		*all = append(*all, member{name: name, typ: sf.Type, path: fpath, depth: depth})
	}
	return nil
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
