// Package api holds what the managed service knows of the Managed Flink API's requests beyond
// the SDK's shapes: the constraints of the service model (model_gen.go, generated from botocore's
// model by internal/modelgen; model_extra.go for what that model lacks), checked by Validate.
package api

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/runnel-io/runnel/service/awsjson"
)

// shape is what the service model says of one shape of a request (model_gen.go holds them).
type shape struct {
	kind           string // structure, string, list, map, integer, long, boolean, timestamp, blob
	min, max       int64
	hasMin, hasMax bool
	pattern        string
	elem, key      string // list and map element shapes, map key shape
	members        []member
}

type member struct {
	name, shape string
	required    bool
}

var patterns sync.Map // pattern -> *regexp.Regexp

func compiled(p string) *regexp.Regexp {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(p)
	patterns.Store(p, re)
	return re
}

// Validate checks the decoded request in (a pointer to the SDK input struct of op) against
// the service model's constraints, as the service does: required members, lengths, bounds,
// patterns and enum values. The error is an InvalidArgumentException naming the member by
// its path, with the constraint it breaks.
func Validate(op string, in any) error {
	name, ok := inputShapes[op]
	if !ok {
		name = extraInputShapes[op]
	}
	s := shapeOf(name)
	if s == nil {
		return nil
	}
	return check(reflect.ValueOf(in), name, s, "")
}

func shapeOf(name string) *shape {
	if s, ok := extraShapes[name]; ok {
		return s
	}
	return shapes[name]
}

func invalid(path, format string, args ...any) error {
	return awsjson.Errorf("InvalidArgumentException", "%s: %s", path, fmt.Sprintf(format, args...))
}

func check(v reflect.Value, name string, s *shape, path string) error {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch s.kind {
	case "structure":
		if v.Kind() != reflect.Struct {
			return nil
		}
		for _, m := range s.members {
			f := v.FieldByName(m.name)
			if !f.IsValid() {
				continue // a member the SDK does not have
			}
			mp := m.name
			if path != "" {
				mp = path + "." + m.name
			}
			if !present(f) {
				if m.required {
					return invalid(mp, "the member is required")
				}
				continue
			}
			ms := shapeOf(m.shape)
			if ms == nil {
				continue
			}
			if err := check(f, m.shape, ms, mp); err != nil {
				return err
			}
		}
	case "string":
		str := v.String()
		n := int64(utf8.RuneCountInString(str))
		if s.hasMin && n < s.min {
			return invalid(path, "length %d is below the minimum of %d", n, s.min)
		}
		if s.hasMax && n > s.max {
			return invalid(path, "length %d is above the maximum of %d", n, s.max)
		}
		if s.pattern != "" && !compiled(s.pattern).MatchString(str) {
			return invalid(path, "%q does not match the pattern %s", truncate(str), s.pattern)
		}
		if vals := enumValues(v); vals != nil && !slices.Contains(vals, str) {
			return invalid(path, "%q is not one of %v", truncate(str), vals)
		}
	case "blob":
		n := int64(v.Len())
		if s.hasMin && n < s.min {
			return invalid(path, "%d bytes, below the minimum of %d", n, s.min)
		}
		if s.hasMax && n > s.max {
			return invalid(path, "%d bytes, above the maximum of %d", n, s.max)
		}
	case "integer", "long":
		var n int64
		switch v.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n = v.Int()
		default:
			return nil
		}
		if s.hasMin && n < s.min {
			return invalid(path, "%d is below the minimum of %d", n, s.min)
		}
		if s.hasMax && n > s.max {
			return invalid(path, "%d is above the maximum of %d", n, s.max)
		}
	case "list":
		n := int64(v.Len())
		if s.hasMin && n < s.min {
			return invalid(path, "%d items, below the minimum of %d", n, s.min)
		}
		if s.hasMax && n > s.max {
			return invalid(path, "%d items, above the maximum of %d", n, s.max)
		}
		es := shapeOf(s.elem)
		if es == nil {
			return nil
		}
		for i := range v.Len() {
			if err := check(v.Index(i), s.elem, es, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "map":
		n := int64(v.Len())
		if s.hasMin && n < s.min {
			return invalid(path, "%d entries, below the minimum of %d", n, s.min)
		}
		if s.hasMax && n > s.max {
			return invalid(path, "%d entries, above the maximum of %d", n, s.max)
		}
		ks, es := shapeOf(s.key), shapeOf(s.elem)
		iter := v.MapRange()
		for iter.Next() {
			kp := fmt.Sprintf("%s[%q]", path, iter.Key().String())
			if ks != nil {
				if err := check(iter.Key(), s.key, ks, kp); err != nil {
					return err
				}
			}
			if es != nil {
				if err := check(iter.Value(), s.elem, es, kp); err != nil {
					return err
				}
			}
		}
	case "timestamp", "boolean":
		_ = time.Time{}
	}
	return nil
}

// present reports whether a request member was given.
func present(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return !v.IsNil()
	case reflect.String:
		return v.Len() > 0
	}
	return true
}

// enumValues returns the values of an SDK enum type (a string type with a Values method), nil
// for other strings.
func enumValues(v reflect.Value) []string {
	if v.Type() == reflect.TypeFor[string]() {
		return nil
	}
	m := v.MethodByName("Values")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil
	}
	out := m.Call(nil)[0]
	vals := make([]string, out.Len())
	for i := range vals {
		vals[i] = out.Index(i).String()
	}
	return vals
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:61] + "..."
	}
	return s
}
