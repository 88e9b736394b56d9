package csv

import (
	"bytes"
	"errors"
	"fmt"
)

// Errors of malformed records, wrapped in the reasons Decode reports.
var (
	// ErrQuote is the reason for a quote inside an unquoted field, or a closing quote followed by
	// something other than a separator or the end of the record.
	ErrQuote = errors.New("csv: misplaced quote")
	// ErrUnterminated is the reason for a quoted field with no closing quote.
	ErrUnterminated = errors.New("csv: unterminated quoted field")
	// ErrFieldCount is the reason for a record whose number of fields is not the number of
	// columns.
	ErrFieldCount = errors.New("csv: wrong number of fields")
	// ErrEmpty is the reason for an empty record.
	ErrEmpty = errors.New("csv: empty record")
)

// splitter cuts one record into fields. It reuses its buffers, so a splitter belongs to one
// goroutine.
type splitter struct {
	comma  byte
	fields [][]byte
	buf    []byte // unquoted text of quoted fields
}

// trimEOL removes one trailing "\n" or "\r\n".
func trimEOL(rec []byte) []byte {
	if n := len(rec); n > 0 && rec[n-1] == '\n' {
		rec = rec[:n-1]
		if n := len(rec); n > 0 && rec[n-1] == '\r' {
			rec = rec[:n-1]
		}
	}
	return rec
}

// split returns rec's fields. They alias rec or s's buffer and are valid until the next call.
// On a syntax error it returns the 1-based number of the field at fault.
func (s *splitter) split(rec []byte) ([][]byte, int, error) {
	rec = trimEOL(rec)
	if len(rec) == 0 {
		return nil, 0, ErrEmpty
	}
	s.fields = s.fields[:0]
	s.buf = s.buf[:0]
	for {
		n := len(s.fields) + 1
		if len(rec) == 0 || rec[0] != '"' {
			i := bytes.IndexByte(rec, s.comma)
			f := rec
			if i >= 0 {
				f = rec[:i]
			}
			if bytes.IndexByte(f, '"') >= 0 {
				return nil, n, ErrQuote
			}
			s.fields = append(s.fields, f)
			if i < 0 {
				return s.fields, 0, nil
			}
			rec = rec[i+1:]
			continue
		}
		// Quoted field.
		rec = rec[1:]
		start := len(s.buf)
		for {
			i := bytes.IndexByte(rec, '"')
			if i < 0 {
				return nil, n, ErrUnterminated
			}
			s.buf = append(s.buf, rec[:i]...)
			rec = rec[i+1:]
			if len(rec) > 0 && rec[0] == '"' { // "" is one quote
				s.buf = append(s.buf, '"')
				rec = rec[1:]
				continue
			}
			break
		}
		s.fields = append(s.fields, s.buf[start:len(s.buf):len(s.buf)])
		switch {
		case len(rec) == 0:
			return s.fields, 0, nil
		case rec[0] == s.comma:
			rec = rec[1:]
		default:
			return nil, n, fmt.Errorf("%w: %q after closing quote", ErrQuote, rec[0])
		}
	}
}

// ScanRecords is a bufio.SplitFunc that frames CSV records: each token is one record without its
// line end, where a line break inside a quoted field belongs to the record. At EOF an unterminated
// quoted field is returned as the last token, so that the decoder reports it.
func ScanRecords(data []byte, atEOF bool) (advance int, token []byte, err error) {
	quoted := false
	for i, c := range data {
		switch c {
		case '"':
			quoted = !quoted
		case '\n':
			if !quoted {
				return i + 1, trimEOL(data[:i+1]), nil
			}
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
