package projection

import (
	"math/rand/v2"
	"testing"
)

// checkFenwick compares f's sum and every find with a scan of flags.
func checkFenwick(t *testing.T, f *fenwick, flags []int) {
	t.Helper()
	if f.len() != len(flags) {
		t.Fatalf("%d flags, want %d", f.len(), len(flags))
	}
	if c := len(f.tree) - 1; c*64 < len(flags) || c&(c-1) != 0 {
		t.Fatalf("capacity %d words for %d flags, want a power of two at least as large", c, len(flags))
	}
	var set []int // indexes of the set flags
	for i, v := range flags {
		if v == 1 {
			set = append(set, i)
		}
	}
	if got := f.sum(); got != len(set) {
		t.Fatalf("sum = %d, want %d", got, len(set))
	}
	for i, before := 0, 0; i <= len(flags); i++ {
		if got := f.prefix(i); got != before {
			t.Fatalf("prefix(%d) = %d, want %d", i, got, before)
		}
		if i < len(flags) {
			if f.get(i) != (flags[i] == 1) {
				t.Fatalf("get(%d) = %v, want %d", i, f.get(i), flags[i])
			}
			before += flags[i]
		}
	}
	for k, want := range set {
		if got := f.find(k + 1); got != want {
			t.Fatalf("find(%d) = %d, want %d", k+1, got, want)
		}
	}
}

func TestFenwick(t *testing.T) {
	for _, n := range []int{1, 2, 15, 16, 17, 31, 32, 33, 64, 65, 1000} {
		var f fenwick
		var flags []int
		// Pushes of both values, checked after each one across the growth
		// from 16 to 32 to 64 and beyond.
		for i := range n {
			v := 1
			if i%3 == 1 {
				v = 0
			}
			f.push(v)
			flags = append(flags, v)
			if n <= 65 || i%97 == 0 {
				checkFenwick(t, &f, flags)
			}
		}
		checkFenwick(t, &f, flags)
		// Clear every other set flag, then set one back.
		for i := 0; i < n; i += 2 {
			if flags[i] == 1 {
				f.add(i, -1)
				flags[i] = 0
			}
		}
		checkFenwick(t, &f, flags)
		f.add(0, 1)
		flags[0] = 1
		f.add(n-1, 0) // no change
		checkFenwick(t, &f, flags)
		// Cleared flags survive the next growth.
		for range n + 1 {
			f.push(1)
			flags = append(flags, 1)
		}
		checkFenwick(t, &f, flags)
	}
}

// Pushes and clears in random order agree with a scan, whatever the sizes
// at which the tree is rebuilt.
func TestFenwickRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var f fenwick
	var flags []int
	for step := range 3000 {
		if len(flags) == 0 || rng.IntN(3) > 0 {
			f.push(1)
			flags = append(flags, 1)
		} else if i := rng.IntN(len(flags)); flags[i] == 1 {
			f.add(i, -1)
			flags[i] = 0
		}
		if step%50 == 0 {
			checkFenwick(t, &f, flags)
		}
	}
	checkFenwick(t, &f, flags)
}

func TestFenwickEmpty(t *testing.T) {
	var f fenwick
	if got := f.sum(); got != 0 {
		t.Fatalf("sum of an empty fenwick = %d, want 0", got)
	}
	f.push(0)
	if got := f.sum(); got != 0 {
		t.Fatalf("sum after push(0) = %d, want 0", got)
	}
	// Small, for the many short lists of the indexes (a tag's).
	if got := len(f.tree) - 1; got != 2 {
		t.Fatalf("first capacity = %d words, want 2", got)
	}
}

// Inserts anywhere (a tag given to an older artifact), pushes, clears and
// a fenwick made from flags all agree with a scan.
func TestFenwickInsert(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var f fenwick
	var flags []int
	for step := range 2000 {
		v := rng.IntN(2)
		switch i := rng.IntN(len(flags) + 1); rng.IntN(4) {
		case 0:
			f.insert(i, v)
			flags = append(flags[:i], append([]int{v}, flags[i:]...)...)
		case 1:
			if i < len(flags) && flags[i] == 1 {
				f.add(i, -1)
				flags[i] = 0
			}
		default:
			f.push(v)
			flags = append(flags, v)
		}
		if step%40 == 0 {
			checkFenwick(t, &f, flags)
			as8 := make([]int8, len(flags))
			for i, v := range flags {
				as8[i] = int8(v)
			}
			g := fenwickFrom(as8)
			checkFenwick(t, &g, flags)
		}
	}
	checkFenwick(t, &f, flags)
}
