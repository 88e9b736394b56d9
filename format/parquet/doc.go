// Package parquet writes streams of Go structs to Parquet files and reads them back, with
// positions that let a reader stop and resume at any row. It wraps
// github.com/parquet-go/parquet-go (GenericWriter[T] and GenericReader[T]), the one package of
// Runnel that imports it.
//
// # Mapping Go types to Parquet
//
// T must be a struct. Its exported fields are the columns, in declaration order, named by the
// `parquet:"name"` tag or, without one, by the Go field name; `parquet:"-"` leaves a field out.
// The library's mapping applies:
//
//	Go type                         Parquet physical type (logical type)
//	bool                            BOOLEAN
//	int8, int16, int32, int         INT32 (INT(8|16|32, signed)); int is INT64 on 64-bit GOARCH
//	int64                           INT64
//	uint8 ... uint64                INT32 / INT64 (INT(n, unsigned))
//	float32, float64                FLOAT, DOUBLE
//	string                          BYTE_ARRAY (STRING)
//	[]byte                          BYTE_ARRAY
//	[N]byte                         FIXED_LEN_BYTE_ARRAY
//	time.Time                       INT64 (TIMESTAMP(nanos, UTC))
//	*X                              optional X (null for nil)
//	[]X                             repeated X (`parquet:",list"` for the LIST logical type)
//	map[K]V                         MAP
//	nested struct                   group
//
// Event times, epoch milliseconds in an int64 as Runnel carries them, want the tag option
// "timestamp(millisecond)": the column is then INT64 TIMESTAMP(MILLIS, UTC), which Spark, Athena,
// DuckDB and pandas read as timestamps; untagged it is a bare INT64. The examples' outputs do
// this. A time.Time is TIMESTAMP(NANOS), which not every reader takes as a timestamp (Spark does
// not by default); tag it "timestamp(millisecond)" too unless it needs nanoseconds. SchemaOf
// shows the schema a type gets. A file's created_by names the Runnel version that wrote it.
//
// Tag options after the name refine a column: "optional", "zstd"/"snappy"/"gzip" (a column's
// compression), "dict" (dictionary encoding), "delta", "timestamp(millisecond)",
// "decimal(scale:precision)", "list", "enum", "json", "uuid". A combination the library rejects
// makes NewWriter and NewReader return an error naming T, never a panic.
//
// When a file's schema differs from T's, columns are matched by name: columns of the file that T
// lacks are skipped, and fields of T that the file lacks read as their zero value (nil for
// pointers). A column whose type cannot be converted to the field's is an error of NewReader.
//
// # Positions
//
// A row's position is its 0-based index in the file. Reader.Row is the index of the next row Read
// returns, and Reader.SeekToRow(row) makes a new Reader of the same file continue there: the library
// finds the row group holding the row from the footer, skips whole pages by their row counts and
// decodes only the page holding the row, so resuming costs at most a page, not a file.
//
// Parquet has no records to skip one by one: a file whose footer or pages are corrupt fails
// with an error naming the file and the row, and nothing after it can be read reliably.
package parquet
