package graphsearch

// Set is a set of small integers that empties in O(1): i is in the set
// when its mark equals the current generation. The zero Set is ready for
// Reset.
type Set struct {
	mark []uint32
	gen  uint32
}

// Reset empties the set, for members below n.
func (m *Set) Reset(n int) {
	if len(m.mark) < n {
		m.mark = make([]uint32, n)
	}
	m.gen++
	if m.gen == 0 {
		clear(m.mark)
		m.gen = 1
	}
}

// Add puts i in the set.
func (m *Set) Add(i uint32) { m.mark[i] = m.gen }

// Has reports whether i is in the set; false for any i on a set never
// Reset.
func (m *Set) Has(i uint32) bool { return int(i) < len(m.mark) && m.mark[i] == m.gen }
