package parquet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/runnel-io/runnel/format/parquet"
	"github.com/runnel-io/runnel/internal/version"
)

type row struct {
	ID      int64     `parquet:"id"`
	Name    string    `parquet:"name,dict"`
	Price   float64   `parquet:"price"`
	Small   int32     `parquet:"small"`
	OK      bool      `parquet:"ok"`
	When    time.Time `parquet:"when,timestamp(millisecond)"`
	Tags    []string  `parquet:"tags,list"`
	Maybe   *int64    `parquet:"maybe,optional"`
	Skipped string    `parquet:"-"`
}

func rows(n int) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = row{ID: int64(i), Name: fmt.Sprint("n", i%7), Price: float64(i) / 4, Small: int32(-i),
			OK: i%2 == 0, When: time.UnixMilli(1_700_000_000_000 + int64(i)).UTC()}
		if i%3 == 0 {
			v := int64(i * 10)
			out[i].Maybe = &v
			out[i].Tags = []string{"a", fmt.Sprint(i)}
		}
	}
	return out
}

func write(t testing.TB, in []row, opts parquet.WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := parquet.NewWriter[row](&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(in); i += 100 {
		if err := w.Write(in[i:min(i+100, len(in))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, r *parquet.Reader[row], batch int) []row {
	t.Helper()
	var out []row
	buf := make([]row, batch)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoundTripAndSeek(t *testing.T) {
	in := rows(5000)
	for _, c := range []parquet.Compression{parquet.Snappy, parquet.Zstd, parquet.Gzip, parquet.Uncompressed} {
		t.Run(c.String(), func(t *testing.T) {
			b := write(t, in, parquet.WriterOptions{Compression: c, RowGroupRows: 700})
			r, err := parquet.NewReader[row](bytes.NewReader(b), int64(len(b)), "mem.parquet")
			if err != nil {
				t.Fatal(err)
			}
			if r.NumRows() != 5000 || r.NumRowGroups() != 8 {
				t.Fatalf("%d rows in %d row groups, want 5000 in 8", r.NumRows(), r.NumRowGroups())
			}
			got := readAll(t, r, 333)
			if !slices.EqualFunc(got, in, rowEqual) {
				t.Fatal("rows read differ from rows written")
			}
			if r.Row() != 5000 {
				t.Fatalf("Row() = %d at the end, want 5000", r.Row())
			}
			// Resume at any row, in a new reader, as a restored split does.
			for _, at := range []int64{0, 1, 699, 700, 701, 2345, 4999, 5000} {
				r2, err := parquet.NewReader[row](bytes.NewReader(b), int64(len(b)), "mem.parquet")
				if err != nil {
					t.Fatal(err)
				}
				if err := r2.SeekToRow(at); err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, r2, 64); !slices.EqualFunc(got, in[at:], rowEqual) {
					t.Fatalf("after seek to %d: read %d rows, want %d equal to the input's", at, len(got), len(in)-int(at))
				}
				_ = r2.Close()
			}
		})
	}
}

func rowEqual(a, b row) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Price == b.Price && a.Small == b.Small && a.OK == b.OK &&
		a.When.Equal(b.When) && slices.Equal(a.Tags, b.Tags) &&
		(a.Maybe == nil) == (b.Maybe == nil) && (a.Maybe == nil || *a.Maybe == *b.Maybe) && a.Skipped == ""
}

// TestSchemaEvolution reads a file with a type that has a column fewer and a column more.
func TestSchemaEvolution(t *testing.T) {
	b := write(t, rows(10), parquet.WriterOptions{})
	type narrow struct {
		Name  string `parquet:"name"`
		ID    int64  `parquet:"id"`
		Extra string `parquet:"extra,optional"`
	}
	r, err := parquet.NewReader[narrow](bytes.NewReader(b), int64(len(b)), "mem.parquet")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]narrow, 20)
	n, err := r.Read(got)
	if n != 10 || (err != nil && !errors.Is(err, io.EOF)) {
		t.Fatalf("read %d rows, %v", n, err)
	}
	for i, v := range got[:n] {
		if v.ID != int64(i) || v.Name != fmt.Sprint("n", i%7) || v.Extra != "" {
			t.Fatalf("row %d = %+v", i, v)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := parquet.NewWriter[int](io.Discard, parquet.WriterOptions{}); err == nil || !strings.Contains(err.Error(), "not a struct") {
		t.Fatalf("NewWriter[int]: %v", err)
	}
	type bad struct {
		C chan int
	}
	if _, err := parquet.NewWriter[bad](io.Discard, parquet.WriterOptions{}); err == nil {
		t.Fatal("NewWriter of a struct with a channel: no error")
	}
	type badTag struct {
		X string `parquet:"x,decimal(1:2)"`
	}
	if _, err := parquet.NewWriter[badTag](io.Discard, parquet.WriterOptions{}); err == nil {
		t.Fatal("NewWriter with a decimal string: no error")
	}
	if _, err := parquet.NewWriter[row](io.Discard, parquet.WriterOptions{Compression: 9}); err == nil {
		t.Fatal("invalid compression: no error")
	}
	junk := []byte("this is not a parquet file at all")
	if _, err := parquet.NewReader[row](bytes.NewReader(junk), int64(len(junk)), "junk.parquet"); err == nil || !strings.Contains(err.Error(), "junk.parquet") {
		t.Fatalf("NewReader of junk: %v", err)
	}
	b := write(t, rows(10), parquet.WriterOptions{})
	r, err := parquet.NewReader[row](bytes.NewReader(b), int64(len(b)), "f.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SeekToRow(11); err == nil || !strings.Contains(err.Error(), "f.parquet") {
		t.Fatalf("seek past the end: %v", err)
	}
	// A file whose pages are damaged fails with the file's name, never panics.
	damaged := slices.Clone(b)
	for i := 4; i < len(damaged)/2; i++ {
		damaged[i] ^= 0x5a
	}
	r, err = parquet.NewReader[row](bytes.NewReader(damaged), int64(len(damaged)), "damaged.parquet")
	if err == nil {
		_, err = r.Read(make([]row, 10))
	}
	if err == nil || !strings.Contains(err.Error(), "damaged.parquet") {
		t.Fatalf("damaged file: %v", err)
	}
}

// TestFileMetadata checks what a file says about itself: who wrote it (the Runnel version, not
// "runnel version (build )") and the logical type of a time column.
func TestFileMetadata(t *testing.T) {
	b := write(t, rows(3), parquet.WriterOptions{})
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	got := f.Metadata().CreatedBy
	if want := version.Get().CreatedBy(); got != want || !strings.HasPrefix(got, "runnel version ") || strings.Contains(got, "(build )") {
		t.Errorf("created_by %q, want %q", got, want)
	}
	schema, err := parquet.SchemaOf[row]()
	if err != nil {
		t.Fatal(err)
	}
	if want := "required int64 when (TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS));"; !strings.Contains(schema, want) || !strings.Contains(f.Schema().String(), want) {
		t.Errorf("schema lacks %q:\n%s\nfile's:\n%s", want, schema, f.Schema())
	}
	if _, err := parquet.SchemaOf[int](); err == nil || !strings.Contains(err.Error(), "not a struct") {
		t.Errorf("SchemaOf[int]() = %v, want an error", err)
	}
}
