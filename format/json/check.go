package json

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"

	gojson "github.com/goccy/go-json"
)

var (
	unmarshalerTypes = []reflect.Type{
		reflect.TypeFor[gojson.Unmarshaler](),
		reflect.TypeFor[encoding.TextUnmarshaler](),
	}
	marshalerTypes = []reflect.Type{
		reflect.TypeFor[gojson.Marshaler](),
		reflect.TypeFor[encoding.TextMarshaler](),
	}
)

// checkType takes custom as {json interface, encoding text interface}: either makes a type
// representable, and the text one also makes it a valid map key. It reports the first type reachable from T through exported, untagged-out fields,
// elements and map values that JSON cannot represent, unless it or a pointer to it implements one
// of the custom interfaces. Interface types are accepted: what they hold is known only at run
// time.
func checkType[T any](custom []reflect.Type) error {
	t := reflect.TypeFor[T]()
	return check(t, t.String(), custom, map[reflect.Type]bool{})
}

func check(t reflect.Type, path string, custom []reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	for _, c := range custom {
		if t.Implements(c) || reflect.PointerTo(t).Implements(c) {
			return nil
		}
	}
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("%s: type %s is not supported by JSON", path, t)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return check(t.Elem(), path+"[]", custom, seen)
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			text := custom[1]
			if !t.Key().Implements(text) && !reflect.PointerTo(t.Key()).Implements(text) {
				return fmt.Errorf("%s: map key type %s is not supported by JSON", path, t.Key())
			}
		}
		return check(t.Elem(), path+"[key]", custom, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == "-" && !strings.HasPrefix(f.Tag.Get("json"), "-,") {
				continue
			}
			if err := check(f.Type, path+"."+f.Name, custom, seen); err != nil {
				return err
			}
		}
	}
	return nil
}
