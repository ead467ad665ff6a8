package training

import (
	"errors"
	"fmt"
)

// Matrix is a dense row-major matrix of float64 values: element (i, j) is
// Data[i*Cols+j]. It is the input representation shared by every fitter in
// this package (logistic regression, gradient-boosted trees, k-means)
// because a single flat slice is cache friendly and costs one allocation.
//
// The zero value is an empty 0×0 matrix. Fitters never modify a Matrix they
// are given.
type Matrix struct {
	// Rows is the number of rows (observations).
	Rows int
	// Cols is the number of columns (features).
	Cols int
	// Data holds Rows*Cols values in row-major order.
	Data []float64
}

// NewMatrix returns a zeroed rows×cols matrix. It panics if rows or cols is
// negative.
func NewMatrix(rows, cols int) Matrix {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("training: negative matrix dimension %d×%d", rows, cols))
	}
	return Matrix{Rows: rows, Cols: cols, Data: make([]float64, rows*cols)}
}

// MatrixFromRows copies rows into a new Matrix. All rows must have the same
// length; otherwise it returns ErrShape.
func MatrixFromRows(rows [][]float64) (Matrix, error) {
	if len(rows) == 0 {
		return Matrix{}, nil
	}
	d := len(rows[0])
	m := NewMatrix(len(rows), d)
	for i, r := range rows {
		if len(r) != d {
			return Matrix{}, fmt.Errorf("training: row %d has %d columns, want %d: %w", i, len(r), d, ErrShape)
		}
		copy(m.Data[i*d:(i+1)*d], r)
	}
	return m, nil
}

// Row returns row i as a slice that aliases m.Data (capacity limited to the
// row, so appending to it cannot overwrite the next row). It panics if i is
// out of range.
func (m Matrix) Row(i int) []float64 {
	if i < 0 || i >= m.Rows {
		panic(fmt.Sprintf("training: row %d out of range [0,%d)", i, m.Rows))
	}
	return m.Data[i*m.Cols : (i+1)*m.Cols : (i+1)*m.Cols]
}

// At returns element (i, j).
func (m Matrix) At(i, j int) float64 { return m.Data[i*m.Cols+j] }

// Validate reports ErrShape if len(Data) != Rows*Cols or a dimension is
// negative.
func (m Matrix) Validate() error {
	if m.Rows < 0 || m.Cols < 0 || len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("training: matrix %d×%d with %d values: %w", m.Rows, m.Cols, len(m.Data), ErrShape)
	}
	return nil
}

// ErrShape is returned when input dimensions disagree: a ragged row, a
// Matrix whose Data length is not Rows*Cols, or labels, weights or scores
// whose length differs from the number of rows.
var ErrShape = errors.New("training: inconsistent dimensions")
