package projection

import "slices"

// fenwick is a binary indexed tree over 0/1 flags that finds the k-th set
// flag in O(log n), so that a page deep into a list with many deleted
// artifacts costs no scan. Flags are only ever appended.
type fenwick struct {
	tree  []int32 // 1-based; len(tree)-1 is the capacity, a power of two
	flags []int8
}

// push appends a flag with value v (0 or 1).
func (f *fenwick) push(v int) {
	f.flags = append(f.flags, int8(v))
	if len(f.flags) >= len(f.tree) {
		f.rebuild(max(4, 2*(len(f.tree)-1)))
		return
	}
	f.inc(len(f.flags), v)
}

// add changes the flag at index i by delta.
func (f *fenwick) add(i, delta int) {
	if delta == 0 {
		return
	}
	f.flags[i] += int8(delta)
	f.inc(i+1, delta)
}

func (f *fenwick) inc(i, delta int) {
	for ; i < len(f.tree); i += i & -i {
		f.tree[i] += int32(delta)
	}
}

func (f *fenwick) rebuild(capacity int) {
	for capacity < len(f.flags)+1 {
		capacity *= 2
	}
	f.tree = make([]int32, capacity+1)
	for i := 1; i <= capacity; i++ {
		if i <= len(f.flags) {
			f.tree[i] += int32(f.flags[i-1])
		}
		if j := i + i&-i; j <= capacity {
			f.tree[j] += f.tree[i]
		}
	}
}

// sum is the number of set flags.
func (f *fenwick) sum() int {
	return f.prefix(len(f.flags))
}

// find returns the index of the k-th set flag (k from 1); k must be at most
// sum().
func (f *fenwick) find(k int) int {
	pos := 0
	for step := (len(f.tree) - 1); step > 0; step >>= 1 {
		if next := pos + step; next < len(f.tree) && int(f.tree[next]) < k {
			pos = next
			k -= int(f.tree[next])
		}
	}
	return pos
}

// prefix is the number of set flags among the first i.
func (f *fenwick) prefix(i int) int {
	s := 0
	for ; i > 0; i -= i & -i {
		s += int(f.tree[i])
	}
	return s
}

// insert puts a flag with value v at index i, moving those after it on:
// O(n), for the rare change that lands in the middle of a list.
func (f *fenwick) insert(i, v int) {
	f.flags = slices.Insert(f.flags, i, int8(v))
	f.rebuild(max(4, len(f.tree)-1))
}
