package api

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	kda "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"

	modelgen "github.com/runnel-io/runnel/service/api/internal/model"
	"github.com/runnel-io/runnel/service/awsjson"
)

// Served are the operations the server implements; the test checks every constraint of their
// requests.
var Served = []string{
	"CreateApplication", "DescribeApplication", "ListApplications", "UpdateApplication", "DeleteApplication",
	"StartApplication", "StopApplication", "RollbackApplication", "CreateApplicationSnapshot",
	"DescribeApplicationSnapshot", "ListApplicationSnapshots", "DeleteApplicationSnapshot",
	"ListApplicationVersions", "DescribeApplicationVersion", "ListApplicationOperations",
	"DescribeApplicationOperation", "TagResource", "UntagResource", "ListTagsForResource",
	"AddApplicationCloudWatchLoggingOption", "DeleteApplicationCloudWatchLoggingOption",
	"UpdateApplicationMaintenanceConfiguration",
}

func loadModel(t *testing.T) *modelgen.Model {
	t.Helper()
	data, err := os.ReadFile(modelgen.DefaultModel)
	if err != nil {
		t.Skipf("the service model of the AWS CLI is not installed (%v): `make test` installs awscli", err)
	}
	var m modelgen.Model
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestGeneratedTablesMatchTheModel checks that model_gen.go is what modelgen makes of the
// installed model: regenerate it when the model changes.
func TestGeneratedTablesMatchTheModel(t *testing.T) {
	m := loadModel(t)
	want, err := modelgen.Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("model_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("model_gen.go differs from the installed service model: run go run ./service/api/internal/modelgen")
	}
}

// inputTypes are the SDK's request types, by operation.
var inputTypes = map[string]reflect.Type{}

func init() {
	ct := reflect.TypeFor[*kda.Client]()
	for i := range ct.NumMethod() {
		m := ct.Method(i)
		if m.Type.NumIn() >= 3 && m.Type.In(2).Kind() == reflect.Pointer && strings.HasSuffix(m.Type.In(2).Elem().Name(), "Input") {
			inputTypes[m.Name] = m.Type.In(2).Elem()
		}
	}
}

// sample returns a valid value for a string shape.
func sample(s *shape) string {
	v := "a"
	switch {
	case s.pattern == "":
	case regexp.MustCompile(s.pattern).MatchString("a"):
	case regexp.MustCompile(s.pattern).MatchString("arn:aws:x"):
		v = "arn:aws:x"
	case regexp.MustCompile(s.pattern).MatchString("00:00"):
		v = "00:00"
	case regexp.MustCompile(s.pattern).MatchString("UTF-8"):
		v = "UTF-8"
	case regexp.MustCompile(s.pattern).MatchString("$a"):
		v = "$a"
	}
	for s.hasMin && int64(len(v)) < s.min {
		v += v[len(v)-1:]
	}
	return v
}

// fill sets v (of shape name) to a valid value: required members, and lists and maps at their
// minimum size, filled.
func fill(t *testing.T, v reflect.Value, name string) {
	s := shapeOf(name)
	if s == nil {
		return
	}
	if v.Kind() == reflect.Pointer {
		v.Set(reflect.New(v.Type().Elem()))
		v = v.Elem()
	}
	switch s.kind {
	case "structure":
		for _, m := range s.members {
			if !m.required {
				continue
			}
			f := v.FieldByName(m.name)
			if f.IsValid() {
				fill(t, f, m.shape)
			}
		}
	case "string":
		if vals := enumValues(v); vals != nil {
			v.SetString(vals[0])
			return
		}
		v.SetString(sample(s))
	case "integer", "long":
		n := int64(1)
		if s.hasMin {
			n = max(n, s.min)
		}
		v.SetInt(n)
	case "boolean":
		v.SetBool(true)
	case "blob":
		v.SetBytes([]byte("x"))
	case "list":
		n := 0
		if s.hasMin {
			n = int(s.min)
		}
		l := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(t, l.Index(i), s.elem)
		}
		v.Set(l)
	case "map":
		v.Set(reflect.MakeMap(v.Type()))
	}
}

// TestEveryConstraintIsEnforced builds, for every constraint the model sets on a member of the
// requests of the served operations (required, length, value bounds, pattern, list size), a
// request that breaks only that one, and checks Validate refuses it with an
// InvalidArgumentException naming the member.
func TestEveryConstraintIsEnforced(t *testing.T) {
	loadModel(t) // the tables are generated from it; this test reads them
	checked := 0
	for _, op := range Served {
		typ := inputTypes[op]
		if typ == nil {
			t.Fatalf("the SDK has no input type for %s", op)
		}
		shapeName := inputShapes[op]
		if shapeName == "" {
			shapeName = extraInputShapes[op]
		}
		// Each member reachable along required members, one at a time.
		var visit func(path []string, fieldPath []int, shapePath []string, name string, depth int)
		visit = func(path []string, fieldPath []int, shapePath []string, name string, depth int) {
			s := shapeOf(name)
			if s == nil || s.kind != "structure" || depth > 4 {
				return
			}
			for _, m := range s.members {
				ms := shapeOf(m.shape)
				f, ok := fieldByPath(typ, fieldPath, m.name)
				if !ok || ms == nil {
					continue
				}
				mp := append(append([]string{}, path...), m.name)
				fp := append(append([]int{}, fieldPath...), f)
				sp := append(append([]string{}, shapePath...), m.shape)
				for _, c := range violations(m, ms) {
					in := reflect.New(typ)
					fill(t, in.Elem(), shapeName)
					target := ensurePath(t, in.Elem(), fp, sp)
					c.apply(t, target, m.shape)
					err := Validate(op, in.Interface())
					ae, isAE := err.(*awsjson.Error)
					p := strings.Join(mp, ".")
					if !isAE || ae.Type != "InvalidArgumentException" || !strings.Contains(ae.Message, p) {
						t.Errorf("%s: %s with %s: Validate = %v, want InvalidArgumentException naming %s", op, p, c.what, err, p)
					}
					checked++
				}
				if ms.kind == "structure" {
					visit(mp, fp, sp, m.shape, depth+1)
				}
			}
		}
		in := reflect.New(typ)
		fill(t, in.Elem(), shapeName)
		if err := Validate(op, in.Interface()); err != nil {
			t.Errorf("%s: a valid request is refused: %v", op, err)
		}
		visit(nil, nil, nil, shapeName, 0)
	}
	t.Logf("%d constraints of %d operations checked", checked, len(Served))
	if checked < 50 {
		t.Fatalf("only %d constraints checked: the test tests too little", checked)
	}
}

type violation struct {
	what  string
	apply func(t *testing.T, v reflect.Value, shape string)
}

// violations returns the ways to break the constraints of member m of shape s.
func violations(m member, s *shape) []violation {
	var out []violation
	if m.required {
		out = append(out, violation{"the member absent", func(t *testing.T, v reflect.Value, _ string) { v.Set(reflect.Zero(v.Type())) }})
	}
	setString := func(str string) func(t *testing.T, v reflect.Value, shape string) {
		return func(t *testing.T, v reflect.Value, _ string) {
			if v.Kind() == reflect.Pointer {
				v.Set(reflect.New(v.Type().Elem()))
				v = v.Elem()
			}
			v.SetString(str)
		}
	}
	switch s.kind {
	case "string":
		if s.hasMin && s.min > 1 {
			out = append(out, violation{fmt.Sprintf("length %d", s.min-1), setString(strings.Repeat("a", int(s.min-1)))})
		}
		if s.hasMax && s.max < 1<<20 {
			long := strings.Repeat(sample(s)[:1], int(s.max+1))
			if s.pattern == "" || regexp.MustCompile(s.pattern).MatchString(long) {
				out = append(out, violation{fmt.Sprintf("length %d", s.max+1), setString(long)})
			}
		}
		if s.pattern != "" {
			for _, bad := range []string{" ", "&", "-", "<", "\t", "a b"} {
				padded := bad
				for s.hasMin && int64(len(padded)) < s.min {
					padded += bad
				}
				if !regexp.MustCompile(s.pattern).MatchString(padded) {
					out = append(out, violation{fmt.Sprintf("%q (pattern)", padded), setString(padded)})
					break
				}
			}
		}
	case "integer", "long":
		set := func(n int64) func(t *testing.T, v reflect.Value, shape string) {
			return func(t *testing.T, v reflect.Value, _ string) {
				if v.Kind() == reflect.Pointer {
					v.Set(reflect.New(v.Type().Elem()))
					v = v.Elem()
				}
				v.SetInt(n)
			}
		}
		if s.hasMin {
			out = append(out, violation{fmt.Sprintf("%d", s.min-1), set(s.min - 1)})
		}
		if s.hasMax && s.max < 1<<40 {
			out = append(out, violation{fmt.Sprintf("%d", s.max+1), set(s.max + 1)})
		}
	case "list":
		if s.hasMin && s.min > 0 {
			out = append(out, violation{"an empty list", func(t *testing.T, v reflect.Value, _ string) { v.Set(reflect.MakeSlice(v.Type(), 0, 0)) }})
		}
		if s.hasMax && s.max < 1000 {
			out = append(out, violation{fmt.Sprintf("%d items", s.max+1), func(t *testing.T, v reflect.Value, _ string) {
				l := reflect.MakeSlice(v.Type(), int(s.max+1), int(s.max+1))
				for i := range l.Len() {
					fill(t, l.Index(i), s.elem)
				}
				v.Set(l)
			}})
		}
	}
	return out
}

// fieldByPath finds field name of the struct at the end of path (field indexes) in typ, and
// returns its index.
func fieldByPath(typ reflect.Type, path []int, name string) (int, bool) {
	t := typ
	for _, i := range path {
		t = t.Field(i).Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return 0, false
		}
	}
	f, ok := t.FieldByName(name)
	if !ok || len(f.Index) != 1 {
		return 0, false
	}
	return f.Index[0], true
}

// ensurePath makes the structs along path (of the shapes shapes), valid, where they are
// missing, and returns the field at its end.
func ensurePath(t *testing.T, v reflect.Value, path []int, shapes []string) reflect.Value {
	for i, idx := range path {
		f := v.Field(idx)
		if i == len(path)-1 {
			return f
		}
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				fill(t, f, shapes[i])
			}
			f = f.Elem()
		}
		v = f
	}
	return v
}
