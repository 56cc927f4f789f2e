package projection

import "math/bits"

// fenwick is a list of 0/1 flags that counts the set ones before an index
// and finds the k-th set one in O(log n), so that a page deep into a list
// with many deleted artifacts costs no scan. The flags are a bitmap, 64 a
// word, under a binary indexed tree of the words' counts: about a fifth of
// a byte per flag, for lists as long as the store.
type fenwick struct {
	words []uint64
	n     int     // flags
	tree  []int32 // 1-based, over words; len(tree)-1 is the capacity, a power of two
}

// fenwickFrom returns a fenwick over flags, each 0 or 1.
func fenwickFrom(flags []int8) fenwick {
	f := fenwick{words: make([]uint64, (len(flags)+63)/64), n: len(flags)}
	for i, v := range flags {
		if v != 0 {
			f.words[i/64] |= 1 << (i % 64)
		}
	}
	f.rebuild(1)
	return f
}

// len is the number of flags.
func (f *fenwick) len() int { return f.n }

// get reports whether the flag at index i is set.
func (f *fenwick) get(i int) bool { return f.words[i/64]&(1<<(i%64)) != 0 }

// push appends a flag with value v (0 or 1).
func (f *fenwick) push(v int) {
	if f.n%64 == 0 {
		f.words = append(f.words, 0)
		if len(f.words) >= len(f.tree) {
			f.n++
			if v != 0 {
				f.words[len(f.words)-1] |= 1 << ((f.n - 1) % 64)
			}
			f.rebuild(2 * (len(f.tree) - 1))
			return
		}
	}
	f.n++
	f.add(f.n-1, v)
}

// add changes the flag at index i by delta: 1 sets a clear flag, -1
// clears a set one, 0 does nothing.
func (f *fenwick) add(i, delta int) {
	if delta == 0 || f.get(i) == (delta > 0) {
		return
	}
	f.words[i/64] ^= 1 << (i % 64)
	for w := i/64 + 1; w < len(f.tree); w += w & -w {
		f.tree[w] += int32(delta)
	}
}

// rebuild sizes the tree for at least capacity words, a power of two, and
// fills it from the words.
func (f *fenwick) rebuild(capacity int) {
	capacity = max(capacity, 1)
	for capacity < len(f.words)+1 {
		capacity *= 2
	}
	f.tree = make([]int32, capacity+1)
	for w := 1; w <= capacity; w++ {
		if w <= len(f.words) {
			f.tree[w] += int32(bits.OnesCount64(f.words[w-1]))
		}
		if j := w + w&-w; j <= capacity {
			f.tree[j] += f.tree[w]
		}
	}
}

// sum is the number of set flags.
func (f *fenwick) sum() int { return f.prefix(f.n) }

// prefix is the number of set flags among the first i.
func (f *fenwick) prefix(i int) int {
	s := 0
	for w := i / 64; w > 0; w -= w & -w {
		s += int(f.tree[w])
	}
	if r := i % 64; r > 0 {
		s += bits.OnesCount64(f.words[i/64] & (1<<r - 1))
	}
	return s
}

// find returns the index of the k-th set flag (k from 1); k must be at most
// sum().
func (f *fenwick) find(k int) int {
	w := 0
	for step := len(f.tree) - 1; step > 0; step >>= 1 {
		if next := w + step; next < len(f.tree) && int(f.tree[next]) < k {
			w = next
			k -= int(f.tree[next])
		}
	}
	word := f.words[w]
	for range k - 1 {
		word &= word - 1 // clear the lowest set flag
	}
	return w*64 + bits.TrailingZeros64(word)
}

// insert puts a flag with value v at index i, moving those after it on:
// O(n), for the rare change that lands in the middle of a list.
func (f *fenwick) insert(i, v int) {
	if f.n%64 == 0 {
		f.words = append(f.words, 0)
	}
	f.n++
	carry := uint64(v & 1)
	for w := i / 64; w < len(f.words); w++ {
		word := f.words[w]
		next := word >> 63
		if w == i/64 {
			low := word & (1<<(i%64) - 1)
			f.words[w] = low | carry<<(i%64) | (word&^(1<<(i%64)-1))<<1
		} else {
			f.words[w] = word<<1 | carry
		}
		carry = next
	}
	f.rebuild(len(f.tree) - 1)
}
