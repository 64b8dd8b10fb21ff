package postgres

// SetCopyPositions turns the COPY path of the position committers on or
// off (off: INSERT ... ON CONFLICT for every group), for the benchmarks
// and tests that compare them. Not safe while positions are stored.
func SetCopyPositions(on bool) (was bool) {
	was, copyPositions = copyPositions, on
	return was
}
