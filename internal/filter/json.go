package filter

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// The functions below read JSON that arbor has already checked. On bytes
// that are not JSON they give up (a member is not found, a value is an
// error) and never panic.

// skipSpace returns the index of the first byte from b[i] on that is not
// white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Flags of a string, saying whether its bytes are its text.
const (
	hasEscape = 1 << iota // a backslash
	hasHigh               // a byte of a multi-byte character, or of invalid UTF-8
)

// stringEnd returns the index just past the string that opens at b[i], or
// -1 if it does not close, and the string's flags.
func stringEnd(b []byte, i int) (end int, flags uint8) {
	// Strings in data are mostly short: for them a table beats IndexByte
	// and skipping eight bytes at a time.
	for i++; i < len(b); i++ {
		c := b[i]
		if !strStop[c] {
			continue
		}
		switch c {
		case '"':
			return i + 1, flags
		case '\\':
			// Skip the byte escaped, which may be a quote.
			flags |= hasEscape
			i++
		default:
			flags |= hasHigh
		}
	}
	return -1, flags
}

// strStop marks the bytes stringEnd looks at.
var strStop = func() (t [256]bool) {
	t['"'], t['\\'] = true, true
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

// unquote returns the text of the string q, quotes included, whose flags
// are given: unescaped, with invalid UTF-8 replaced as encoding/json does.
func unquote(q []byte, flags uint8) (string, bool) {
	inner := q[1 : len(q)-1]
	if flags&hasEscape == 0 && (flags&hasHigh == 0 || utf8.Valid(inner)) {
		return string(inner), true
	}
	var s string
	return s, json.Unmarshal(q, &s) == nil
}

// valueEnd returns the index just past the value that starts at b[i], or -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			if !containerStop[b[i]] {
				i++
				continue
			}
			switch b[i] {
			case '"':
				end, _ := stringEnd(b, i)
				if end < 0 {
					return -1
				}
				i = end
				continue
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	for ; i < len(b); i++ {
		if scalarStop[b[i]] {
			return i
		}
	}
	return i
}

// containerStop marks the bytes that matter while skipping over an object
// or an array: quotes, which open strings, and brackets.
var containerStop = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// scalarStop marks the bytes that end a number, true, false or null.
var scalarStop = [256]bool{',': true, '}': true, ']': true, ' ': true, '\t': true, '\n': true, '\r': true}

// members walks the members of an object.
type members struct {
	b    []byte
	i    int
	done bool
	cur  member // the member next found
}

// start readies m to walk obj.
func (m *members) start(obj []byte) {
	m.b, m.done = obj, true
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return
	}
	m.i, m.done = i, false
}

// member is a member of an object by its offsets: obj[keyStart:keyEnd] is
// its key as written, quotes included, and flags are the key's.
type member struct {
	keyStart, keyEnd, valStart, valEnd int
	flags                              uint8
}

func (m member) key(obj []byte) []byte { return obj[m.keyStart:m.keyEnd] }
func (m member) val(obj []byte) []byte { return obj[m.valStart:m.valEnd] }

// next finds the next member and sets cur to it; false at the end.
// (Returning the member instead costs a fifth of a scan.)
func (m *members) next() bool {
	if m.done {
		return false
	}
	m.done = true
	b, i := m.b, m.i
	if i >= len(b) || b[i] != '"' {
		return false
	}
	ke, flags := stringEnd(b, i)
	if ke < 0 {
		return false
	}
	ks := i
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipSpace(b, i+1)
	ve := valueEnd(b, i)
	if ve < 0 {
		return false
	}
	m.cur.keyStart, m.cur.keyEnd, m.cur.valStart, m.cur.valEnd, m.cur.flags = ks, ke, i, ve, flags
	i = skipSpace(b, ve)
	if i < len(b) && b[i] == ',' {
		m.i, m.done = skipSpace(b, i+1), false
	}
	return true
}

// elements walks the elements of an array.
type elements struct {
	b    []byte
	i    int
	done bool
}

// start readies e to walk arr.
func (e *elements) start(arr []byte) {
	e.b, e.done = arr, true
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return
	}
	e.i, e.done = i, false
}

// next returns the next element; false at the end.
func (e *elements) next() (val []byte, ok bool) {
	if e.done {
		return nil, false
	}
	e.done = true
	ve := valueEnd(e.b, e.i)
	if ve < 0 {
		return nil, false
	}
	val = e.b[e.i:ve]
	i := skipSpace(e.b, ve)
	if i < len(e.b) && e.b[i] == ',' {
		e.i, e.done = skipSpace(e.b, i+1), false
	}
	return val, true
}

// find returns the value of the first member key of obj, and how many
// bytes it scanned.
func find(obj []byte, key string) (val []byte, scanned int, ok bool) {
	var m members
	m.start(obj)
	for m.next() {
		if keyIs(m.cur.key(obj), m.cur.flags, key) {
			return m.cur.val(obj), m.cur.valEnd, true
		}
	}
	return nil, len(obj), false
}

// keyIs reports whether k, a key as written with flags, is key.
func keyIs(k []byte, flags uint8, key string) bool {
	if flags == 0 {
		return string(k[1:len(k)-1]) == key
	}
	s, ok := unquote(k, flags)
	return ok && s == key
}

// seen remembers the members of an object that one Match has scanned so
// far, so that reading a second member does not scan the first again.
type seen struct {
	m        members // the scan, stopped after the last member seen
	n        int
	ms       [16]seenMember
	overflow bool // more members were scanned than ms holds
}

// seenMember is a member, in less room.
type seenMember struct {
	keyStart, keyEnd, valStart, valEnd int32
	flags                              uint8
}

// find is the package's find, reading the members seen before scanning
// on. obj must be shorter than 2 GiB.
func (s *seen) find(obj []byte, key string) (val []byte, scanned int, ok bool) {
	for i := range s.ms[:s.n] {
		sm := &s.ms[i]
		if keyIs(obj[sm.keyStart:sm.keyEnd], sm.flags, key) {
			return obj[sm.valStart:sm.valEnd], 0, true
		}
	}
	from := s.m.i
	if s.m.done {
		from = len(obj)
	}
	for s.m.next() {
		mem := &s.m.cur
		if s.n < len(s.ms) {
			// Field by field: a composite literal is built on the stack
			// and copied, which stalls the store.
			sm := &s.ms[s.n]
			sm.keyStart, sm.keyEnd, sm.valStart, sm.valEnd = int32(mem.keyStart), int32(mem.keyEnd), int32(mem.valStart), int32(mem.valEnd)
			sm.flags = mem.flags
			s.n++
		} else {
			s.overflow = true
		}
		if keyIs(mem.key(obj), mem.flags, key) {
			return mem.val(obj), mem.valEnd - from, true
		}
	}
	scanned = max(len(obj)-from, 0)
	if s.overflow {
		val, n, ok := find(obj, key)
		return val, scanned + n, ok
	}
	return nil, scanned, false
}

// scan is what the values of one Match share: a budget of data bytes to
// read, and room for the objects they read, to save allocating them.
//
// CEL's cost tracker counts reading a member of a large object, or
// searching a list of data, as one operation: an expression that did so in
// every turn of a loop would run away but for this second limit. Scanning
// an object for a member spends the bytes scanned, reading a string its
// length, decoding an array eight times its length, and searching or
// comparing a list the length of its JSON.
type scan struct {
	left   int
	over   bool
	objs   [8]object
	n      int
	lists  [4]cachedList
	nlists int
}

// cachedList is an array decoded, by the place and length of its JSON.
type cachedList struct {
	start *byte
	n     int
	val   ref.Val
}

func (sc *scan) reset() {
	for i := range sc.objs[:sc.n] {
		sc.objs[i] = object{} // let the data go
	}
	if sc.nlists > 0 {
		sc.lists = [4]cachedList{}
	}
	sc.left, sc.over, sc.n, sc.nlists = scanLimit, false, 0, 0
}

// spend takes n bytes from the budget; false once it is spent.
func (sc *scan) spend(n int) bool {
	if sc.over {
		return false
	}
	sc.left -= n
	if sc.left < 0 {
		sc.over = true
		return false
	}
	return true
}

// object returns a new object for raw.
func (sc *scan) object(raw []byte) *object {
	if sc.n == len(sc.objs) {
		return &object{raw: raw, sc: sc}
	}
	o := &sc.objs[sc.n]
	sc.n++
	o.raw, o.sc = raw, sc
	return o
}

var errOverBudget = types.NewErr("filter: data scan limit exceeded")

// value returns raw as a CEL value: objects stay raw and are read when an
// expression asks for a member, arrays become lists, numbers doubles.
func value(raw []byte, sc *scan) ref.Val {
	if len(raw) == 0 {
		return types.NewErr("filter: empty JSON value")
	}
	switch raw[0] {
	case '{':
		return sc.object(raw)
	case '[':
		return decodeArray(raw, sc)
	case '"':
		end, flags := stringEnd(raw, 0)
		if end != len(raw) {
			return types.NewErr("filter: bad JSON string")
		}
		// A long string costs its length each time it is read.
		if !sc.spend(len(raw)) {
			return errOverBudget
		}
		s, ok := unquote(raw, flags)
		if !ok {
			return types.NewErr("filter: bad JSON string")
		}
		return types.String(s)
	case 't':
		if string(raw) == "true" {
			return types.True
		}
	case 'f':
		if string(raw) == "false" {
			return types.False
		}
	case 'n':
		if string(raw) == "null" {
			return types.NullValue
		}
	default:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err == nil {
			return types.Double(f)
		}
	}
	return types.NewErr("filter: bad JSON value")
}

// decodeArray decodes an array; its objects stay raw. An expression that
// loops over an array often reads it again in each turn, so the last few
// large arrays decoded are kept for the rest of the Match.
func decodeArray(raw []byte, sc *scan) ref.Val {
	large := len(raw) >= 64
	if large {
		for _, l := range sc.lists {
			if l.n == len(raw) && l.start == &raw[0] {
				return l.val
			}
		}
	}
	// Decoding a byte takes several times as long as scanning it.
	if !sc.spend(8 * len(raw)) {
		return errOverBudget
	}
	var vals []ref.Val
	var e elements
	e.start(raw)
	for {
		v, ok := e.next()
		if !ok {
			break
		}
		vals = append(vals, value(v, sc))
	}
	l := &list{Lister: types.NewRefValList(types.DefaultTypeAdapter, vals), n: len(raw), sc: sc}
	if large {
		sc.lists[sc.nlists%len(sc.lists)] = cachedList{start: &raw[0], n: len(raw), val: l}
		sc.nlists++
	}
	return l
}

// list is an array of data decoded. Searching it costs its length in bytes,
// each time: CEL's cost tracker counts x in data.list as one operation.
type list struct {
	traits.Lister
	n  int // the length of its JSON
	sc *scan
}

// Contains implements the in operator.
func (l *list) Contains(v ref.Val) ref.Val {
	if !l.sc.spend(l.n) {
		return errOverBudget
	}
	return l.Lister.Contains(v)
}

// Equal implements ref.Val.
func (l *list) Equal(other ref.Val) ref.Val {
	if !l.sc.spend(l.n) {
		return errOverBudget
	}
	return l.Lister.Equal(other)
}

// Add implements the + operator; the lists it joins go on costing.
func (l *list) Add(other ref.Val) ref.Val {
	sum, ok := l.Lister.Add(other).(traits.Lister)
	if !ok {
		return sum
	}
	n := l.n
	switch o := other.(type) {
	case *list:
		n += o.n
	case traits.Sizer:
		if size, ok := o.Size().(types.Int); ok {
			n += 8 * int(size) // about the JSON of a number
		}
	}
	return &list{Lister: sum, n: n, sc: l.sc}
}

// object is a JSON object read in place: a CEL map with string keys.
type object struct {
	raw  []byte
	sc   *scan
	seen *seen // for the data itself, read many times; nil for others
}

var _ traits.Mapper = (*object)(nil)

// ConvertToNative decodes the object; only conversions and the few
// functions that need a Go value call it.
func (o *object) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if typeDesc == reflect.TypeFor[json.RawMessage]() {
		return json.RawMessage(o.raw), nil
	}
	m, err := o.decode()
	if err != nil {
		return nil, err
	}
	return types.DefaultTypeAdapter.NativeToValue(m).ConvertToNative(typeDesc)
}

func (o *object) decode() (map[string]any, error) {
	if !o.sc.spend(len(o.raw)) {
		return nil, errOverBudget.(*types.Err)
	}
	var m map[string]any
	if err := json.Unmarshal(o.raw, &m); err != nil {
		return nil, fmt.Errorf("filter: bad JSON object: %w", err)
	}
	return m, nil
}

// ConvertToType implements ref.Val.
func (o *object) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return o
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.MapType, t)
}

// Equal reports whether other is a map with the same keys and equal values.
func (o *object) Equal(other ref.Val) ref.Val {
	om, ok := other.(traits.Mapper)
	if !ok {
		return types.False
	}
	if types.Equal(o.Size(), om.Size()) != types.True {
		return types.False
	}
	if !o.sc.spend(len(o.raw)) {
		return errOverBudget
	}
	var m members
	m.start(o.raw)
	for m.next() {
		mem := &m.cur
		key, ok := unquote(mem.key(o.raw), mem.flags)
		if !ok {
			return types.False
		}
		ov, found := om.Find(types.String(key))
		if !found || types.Equal(value(mem.val(o.raw), o.sc), ov) != types.True {
			return types.False
		}
	}
	return types.True
}

// Type implements ref.Val.
func (o *object) Type() ref.Type { return types.MapType }

// Value returns the decoded object, or nil if it is not JSON.
func (o *object) Value() any {
	m, _ := o.decode()
	return m
}

// String returns the object's JSON.
func (o *object) String() string { return string(o.raw) }

// Contains implements the in operator: whether key is a member.
func (o *object) Contains(key ref.Val) ref.Val {
	v, found := o.Find(key)
	if !found && v != nil {
		return v
	}
	return types.Bool(found)
}

// Get implements the index operator.
func (o *object) Get(key ref.Val) ref.Val {
	v, found := o.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Find implements traits.Mapper.
func (o *object) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	var raw []byte
	var scanned int
	var found bool
	if o.seen != nil {
		raw, scanned, found = o.seen.find(o.raw, string(k))
	} else {
		raw, scanned, found = find(o.raw, string(k))
	}
	if !o.sc.spend(scanned) {
		return errOverBudget, false
	}
	if !found {
		return nil, false
	}
	return value(raw, o.sc), true
}

// Iterator walks the keys.
func (o *object) Iterator() traits.Iterator {
	if !o.sc.spend(len(o.raw)) {
		return types.NewRefValList(types.DefaultTypeAdapter, nil).Iterator()
	}
	var keys []ref.Val
	var m members
	m.start(o.raw)
	for m.next() {
		key, ok := unquote(m.cur.key(o.raw), m.cur.flags)
		if !ok {
			continue
		}
		keys = append(keys, types.String(key))
	}
	return types.NewRefValList(types.DefaultTypeAdapter, keys).Iterator()
}

// Size returns the number of members. It always returns a types.Int: the
// cost tracker asserts it.
func (o *object) Size() ref.Val {
	o.sc.spend(len(o.raw))
	n := 0
	var m members
	m.start(o.raw)
	for m.next() {
		n++
	}
	return types.Int(n)
}

// IsZeroValue reports whether the object is empty.
func (o *object) IsZeroValue() bool {
	var m members
	m.start(o.raw)
	return !m.next()
}
