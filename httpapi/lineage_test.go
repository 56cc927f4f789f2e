package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/internal/arbortest"
)

// ids are the ids of as, in order.
func ids(as []artifact) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func (e *env) list(query string) page {
	e.t.Helper()
	var p page
	wantJSON(e.t, e.do(http.MethodGet, base+"?"+query, ""), http.StatusOK, &p)
	return p
}

// TestListFilters: every filter of the list, alone and together, answers
// exactly the artifacts a user would pick by hand.
func TestListFilters(t *testing.T) {
	e := newEnv(t)
	exp := e.create(`{"tags":["prod","exp-1"],"data":{"name":"exp"}}`)
	m1 := e.create(`{"parent_id":"` + exp.ID + `","tags":["prod"],"data":{"name":"m1","metrics":{"rmse":0.2},"model_type":"LinearRegression"}}`)
	m2 := e.create(`{"parent_id":"` + exp.ID + `","tags":["dev"],"data":{"name":"m2","metrics":{"rmse":0.5},"model_type":"LinearRegression"}}`)
	time.Sleep(5 * time.Millisecond) // a created range between m2 and p1
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	p1 := e.create(`{"parent_id":"` + m1.ID + `","tags":["prod","exp-1"],"data":{"name":"p1","score":3}}`)
	doc := e.root("documents", "doc")
	m3 := e.create(`{"parent_id":"` + exp.ID + `","data":{"name":"m3","metrics":{"rmse":0.1},"model_type":"Tree"}}`)
	time.Sleep(2 * time.Millisecond) // times are in milliseconds: after m3's creation
	want(t, e.do(http.MethodPut, base+"/"+m2.ID, `{"tags":["dev"],"data":{"name":"m2","metrics":{"rmse":0.25},"model_type":"LinearRegression"}}`), http.StatusOK)

	for _, tc := range []struct {
		query string
		want  []artifact
	}{
		{"", []artifact{exp, m1, m2, p1, doc, m3}},
		{"hierarchy=documents", []artifact{doc}},
		{"hierarchy=ml_pipeline", []artifact{exp, m1, m2, p1, m3}},
		{"level=1", []artifact{m1, m2, m3}},
		{"level=0", []artifact{exp, doc}},
		{"level_label=model", []artifact{m1, m2, m3}},
		{"level_label=project", []artifact{doc}},
		{"level_label=model&hierarchy=documents", nil},
		{"level=1&hierarchy=ml_pipeline", []artifact{m1, m2, m3}},
		{"parent_id=" + exp.ID, []artifact{m1, m2, m3}},
		{"parent_id=" + exp.ID + "&tag=prod", []artifact{m1}},
		{"tag=prod", []artifact{exp, m1, p1}},
		{"tag=prod&tag=exp-1", []artifact{exp, p1}},
		{"tag=nope", nil},
		{"created_after=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []artifact{p1, doc, m3}},
		{"created_before=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []artifact{exp, m1, m2}},
		{"created_after=" + url.QueryEscape(mid.Format(time.RFC3339Nano)) + "&hierarchy=ml_pipeline", []artifact{p1, m3}},
		// An offset's '+' not escaped arrives as a space, and still reads.
		{"created_before=" + mid.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano), []artifact{exp, m1, m2}},
		{"updated_after=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []artifact{m2, p1, doc, m3}},
		{"filter=" + url.QueryEscape(`data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`), []artifact{m1, m2}},
		{"filter=" + url.QueryEscape(`"prod" in tags || level_label == "project"`), []artifact{exp, m1, p1, doc}},
		{"filter=" + url.QueryEscape(`data.score > 2`), []artifact{p1}},
		{"filter=" + url.QueryEscape(`parent_id == null`), []artifact{exp, doc}},
		{"filter=" + url.QueryEscape(`data.missing.deep == 1`), nil},
		{"sort=-created_at", []artifact{m3, doc, p1, m2, m1, exp}},
		{"sort=data.metrics.rmse&level_label=model", []artifact{m3, m1, m2}},
		{"sort=-data.metrics.rmse&parent_id=" + exp.ID, []artifact{m2, m1, m3}},
		{"sort=data.name", []artifact{doc, exp, m1, m2, m3, p1}},
		{"sort=updated_at", []artifact{exp, m1, p1, doc, m3, m2}},
	} {
		p := e.list(tc.query)
		if got, want := ids(p.Items), ids(tc.want); !slices.Equal(got, want) || p.Total != len(tc.want) {
			t.Errorf("GET ?%s = %v (total %d), want %v", tc.query, got, p.Total, want)
		}
	}

	for _, tc := range []struct{ query, typ string }{
		{"filter=" + url.QueryEscape("data.x <"), typeBadRequest},
		{"filter=" + url.QueryEscape(`data.name`), typeBadRequest},
		{"filter=" + url.QueryEscape(`1 + "a" == 2`), typeBadRequest},
		{"sort=name", typeBadRequest},
		{"sort=data.", typeBadRequest},
		{"tags=prod", typeBadRequest},
		{"cursor=abc", typeBadRequest},
		{"cursor=abc&page=2", typeBadRequest},
		{"parent_id=nope", typeInvalidULID},
		{"level=x", typeValidation},
		{"created_after=yesterday", typeValidation},
		{"as_of=yesterday", typeValidation},
		{"as_of=", typeValidation},
		{"filter=", typeBadRequest},
		{"cursor=", typeBadRequest},
		// Pairs url.Values cannot read are not dropped (and the filter
		// with them): the query is refused.
		{"filter=data.name%20==%20%22b;c%22", typeBadRequest},
		{"filter=data.name%20==%20%22b%", typeBadRequest},
		{"as_of=1&x=%zz", typeBadRequest},
	} {
		before := e.written()
		status := http.StatusBadRequest
		if tc.typ == typeValidation {
			status = http.StatusUnprocessableEntity
		}
		wantProblem(t, e.do(http.MethodGet, base+"?"+tc.query, ""), status, tc.typ)
		if e.written() != before {
			t.Errorf("GET ?%s changed the log", tc.query)
		}
	}
}

// TestUnknownQueryParameters: every endpoint names the parameter it does
// not take, rather than ignoring it.
func TestUnknownQueryParameters(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "a")
	item := base + "/" + a.ID
	for _, tc := range []struct{ method, path string }{
		{"GET", base + "?tags=x"},
		{"GET", item + "?verison=1"},
		{"GET", item + "/$tree?depth=1"},
		{"GET", item + "/$ancestors?max_depth=1"},
		{"GET", item + "/$expand?x=1"},
		{"GET", item + "/$history?as_of=1"},
		{"GET", item + "/$metadata?as_of=1"},
		{"GET", item + "/$download?fmt=csv"},
		{"GET", base + "/$stats?hierarchy=x"},
		{"GET", base + "/$schema?x=1"},
		{"GET", base + "/$events?parent=x"},
		{"PUT", item + "?version=1"},
		{"DELETE", item + "?force=true"},
		{"POST", base + "?page=1"},
		{"GET", "/health?verbose=1"},
	} {
		body := ""
		if tc.method == "PUT" || tc.method == "POST" {
			body = `{"data":{}}`
		}
		before := e.written()
		r := e.do(tc.method, tc.path, body)
		p := wantProblem(t, r, http.StatusBadRequest, typeBadRequest)
		if u, _ := url.Parse(tc.path); !namesOne(p.Detail, u.Query()) {
			t.Errorf("%s %s: detail %q does not name the parameter", tc.method, tc.path, p.Detail)
		}
		if e.written() != before {
			t.Errorf("%s %s changed the log", tc.method, tc.path)
		}
	}
}

// TestQueryParametersAfterRoutes: a path arbor does not serve is a 404,
// and OPTIONS answers its methods, whatever the query.
func TestQueryParametersAfterRoutes(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "a")
	wantProblem(t, e.do(http.MethodGet, base+"/$nope?x=1", ""), http.StatusNotFound, typeNotFound)
	wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID+"/$nope?x=1", ""), http.StatusNotFound, typeNotFound)
	if r := e.do(http.MethodOptions, base+"/"+a.ID+"?x=1", ""); r.Status != http.StatusNoContent || r.Header.Get("Allow") == "" {
		t.Errorf("OPTIONS with a query = %d, Allow %q; want 204 with Allow", r.Status, r.Header.Get("Allow"))
	}
}

// namesOne reports whether detail names one of q's parameters.
func namesOne(detail string, q url.Values) bool {
	for name := range q {
		if strings.Contains(detail, strconv.Quote(name)) {
			return true
		}
	}
	return false
}

// TestCursorPagesWhileWriting pages through the list by cursor while
// other clients create and delete: no artifact twice, and every one that
// lived through the whole walk seen.
func TestCursorPagesWhileWriting(t *testing.T) {
	for _, sort := range []string{"created_at", "-created_at", "data.n", "-data.n"} {
		t.Run(sort, func(t *testing.T) {
			e := newEnv(t)
			var kept []string
			for i := range 40 {
				kept = append(kept, e.create(fmt.Sprintf(`{"data":{"n":%d}}`, i)).ID)
			}
			var doomed []string
			for i := range 10 {
				doomed = append(doomed, e.create(fmt.Sprintf(`{"data":{"n":%d}}`, 100+i)).ID)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					e.create(fmt.Sprintf(`{"data":{"n":%d}}`, 1000+i))
					if i < len(doomed) {
						want(t, e.do(http.MethodDelete, base+"/"+doomed[i], ""), http.StatusNoContent)
					}
				}
			})
			seen := map[string]int{}
			q := "size=7&sort=" + sort
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("no end to the pages")
				}
				p := e.list(q)
				for _, a := range p.Items {
					seen[a.ID]++
				}
				if p.NextCursor == nil {
					break
				}
				q = "size=7&sort=" + sort + "&cursor=" + url.QueryEscape(*p.NextCursor)
			}
			close(stop)
			wg.Wait()
			for id, n := range seen {
				if n > 1 {
					t.Errorf("%s seen %d times", id, n)
				}
			}
			for _, id := range kept {
				if seen[id] == 0 {
					t.Errorf("%s, there all along, never seen", id)
				}
			}
		})
	}
}

// TestPageAndNextCursor: a page by number gives the cursor of the next,
// and the last page none.
func TestPageAndNextCursor(t *testing.T) {
	e := newEnv(t)
	var all []string
	for i := range 5 {
		all = append(all, e.root("", fmt.Sprint("a", i)).ID)
	}
	p := e.list("size=2&page=2")
	if got := ids(p.Items); !slices.Equal(got, all[2:4]) || p.NextCursor == nil {
		t.Fatalf("page 2 = %v, next %v", got, p.NextCursor)
	}
	next := e.list("size=2&cursor=" + url.QueryEscape(*p.NextCursor))
	if got := ids(next.Items); !slices.Equal(got, all[4:]) || next.NextCursor != nil || next.Page != 0 || next.Total != 5 {
		t.Errorf("after page 2 = %v (page %d, total %d, next %v), want the last", got, next.Page, next.Total, next.NextCursor)
	}
	wantProblem(t, e.do(http.MethodGet, base+"?size=2&sort=updated_at&cursor="+url.QueryEscape(*p.NextCursor), ""), http.StatusBadRequest, typeBadRequest)
}

// TestHistoryAndVersions reads every version of an artifact, deleted too,
// and each version by number.
func TestHistoryAndVersions(t *testing.T) {
	e := newEnv(t)
	a := e.create(`{"tags":["v1"],"data":{"name":"a","n":1}}`)
	var v2 artifact
	wantJSON(t, e.do(http.MethodPut, base+"/"+a.ID, `{"tags":["v2"],"data":{"name":"a","n":2}}`), http.StatusOK, &v2)
	up := e.do(http.MethodPut, base+"/"+a.ID+"/$content", "raw bytes", "Content-Type", "text/plain")
	want(t, up, http.StatusOK)
	del := e.do(http.MethodDelete, base+"/"+a.ID, "")
	want(t, del, http.StatusNoContent)

	var h struct {
		Items []struct {
			Version  int             `json:"version"`
			Type     string          `json:"type"`
			Time     string          `json:"time"`
			Position uint64          `json:"position"`
			Data     map[string]any  `json:"data"`
			Tags     []string        `json:"tags"`
			Content  *versionContent `json:"content"`
		} `json:"items"`
	}
	wantJSON(t, e.do(http.MethodGet, base+"/"+a.ID+"/$history", ""), http.StatusOK, &h)
	if len(h.Items) != 4 {
		t.Fatalf("history has %d entries, want 4", len(h.Items))
	}
	types := []string{"artifact.created", "artifact.updated", "artifact.updated", "artifact.deleted"}
	for i, v := range h.Items {
		if v.Version != i+1 || v.Type != types[i] || (i > 0 && v.Position <= h.Items[i-1].Position) {
			t.Errorf("entry %d = v%d %s at %d", i, v.Version, v.Type, v.Position)
		}
		checkTime(t, "time", v.Time)
	}
	if h.Items[0].Data["n"] != 1.0 || h.Items[1].Data["n"] != 2.0 || h.Items[0].Tags[0] != "v1" || h.Items[1].Tags[0] != "v2" {
		t.Errorf("versions 1 and 2 = %v %v / %v %v", h.Items[0].Data, h.Items[0].Tags, h.Items[1].Data, h.Items[1].Tags)
	}
	if h.Items[2].Content == nil || h.Items[2].Content.Size != int64(len("raw bytes")) || h.Items[1].Content != nil {
		t.Errorf("content of versions 2 and 3 = %v, %v", h.Items[1].Content, h.Items[2].Content)
	}
	// The deletion's answer is at its last message: its seals follow it.
	if h.Items[3].Data != nil || h.Items[3].Tags != nil || h.Items[3].Position > position(t, del) {
		t.Errorf("the deletion = %+v, want no data or tags, at %d at most", h.Items[3], position(t, del))
	}

	var got artifact
	r := e.do(http.MethodGet, base+"/"+a.ID+"?version=1", "")
	wantJSON(t, r, http.StatusOK, &got)
	if got.Version != 1 || !sameJSON(got.Data, []byte(`{"name":"a","n":1}`)) || r.Header.Get("ETag") != `"1"` {
		t.Errorf("version 1 = v%d %s, ETag %s", got.Version, got.Data, r.Header.Get("ETag"))
	}
	wantJSON(t, e.do(http.MethodGet, base+"/"+a.ID+"?version=2", ""), http.StatusOK, &got)
	if got.Version != 2 || !sameJSON(got.Data, []byte(`{"name":"a","n":2}`)) {
		t.Errorf("version 2 = v%d %s", got.Version, got.Data)
	}
	for _, v := range []string{"4", "5", "99"} {
		wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID+"?version="+v, ""), http.StatusNotFound, typeNotFound)
	}
	wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID+"?version=0", ""), http.StatusUnprocessableEntity, typeValidation)
	wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID+"?version=", ""), http.StatusUnprocessableEntity, typeValidation)
	wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID+"/$tree?as_of=", ""), http.StatusUnprocessableEntity, typeValidation)
	wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID+"?version=1&as_of=3", ""), http.StatusBadRequest, typeBadRequest)
	wantProblem(t, e.do(http.MethodGet, base+"/"+unknownID+"/$history", ""), http.StatusNotFound, typeNotFound)
}

type versionContent struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Type   string `json:"content_type"`
}

// TestAsOf reads a small lineage as it stood before a change, by position
// and by time, on every read that takes as_of.
func TestAsOf(t *testing.T) {
	e := newEnv(t)
	exp := e.root("", "exp")
	m := e.child(exp.ID, "m")
	r := e.do(http.MethodPost, base, `{"parent_id":"`+m.ID+`","data":{"name":"p"}}`)
	var p artifact
	wantJSON(t, r, http.StatusCreated, &p)
	before := position(t, r)
	time.Sleep(5 * time.Millisecond)
	at := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	want(t, e.do(http.MethodPut, base+"/"+m.ID, `{"data":{"name":"m2"}}`), http.StatusOK)
	later := e.child(m.ID, "later")
	want(t, e.do(http.MethodDelete, base+"/"+p.ID, ""), http.StatusNoContent)

	for _, asOf := range []string{strconv.FormatUint(before, 10), url.QueryEscape(at)} {
		var got artifact
		r := e.do(http.MethodGet, base+"/"+m.ID+"?as_of="+asOf, "")
		wantJSON(t, r, http.StatusOK, &got)
		if got.Version != 1 || !sameJSON(got.Data, []byte(`{"name":"m"}`)) || position(t, r) != before {
			t.Errorf("as_of %s: m = v%d %s at %s", asOf, got.Version, got.Data, r.Header.Get("Arbor-Position"))
		}
		wantJSON(t, e.do(http.MethodGet, base+"/"+p.ID+"?as_of="+asOf, ""), http.StatusOK, &got)
		wantProblem(t, e.do(http.MethodGet, base+"/"+later.ID+"?as_of="+asOf, ""), http.StatusNotFound, typeNotFound)

		var tree node
		wantJSON(t, e.do(http.MethodGet, base+"/"+exp.ID+"/$tree?as_of="+asOf, ""), http.StatusOK, &tree)
		ms := tree.Kids(t)
		kids := ms[0].Kids(t)
		if len(kids) != 1 || kids[0].ID != p.ID || ms[0].Version != 1 {
			t.Errorf("as_of %s: tree under m = %v", asOf, kids)
		}
		body := `{"root_id":"` + exp.ID + `","as_of":"` + mustUnescape(asOf) + `"}`
		wantJSON(t, e.do(http.MethodPost, base+"/$tree", body), http.StatusOK, &tree)
		if len(tree.Kids(t)[0].Kids(t)) != 1 {
			t.Errorf("POST $tree as_of %s: %v", asOf, tree)
		}
		var anc struct{ Items []node }
		wantJSON(t, e.do(http.MethodGet, base+"/"+p.ID+"/$ancestors?as_of="+asOf, ""), http.StatusOK, &anc)
		if len(anc.Items) != 2 || anc.Items[1].Version != 1 {
			t.Errorf("as_of %s: ancestors of p = %v", asOf, anc.Items)
		}
		var ex node
		wantJSON(t, e.do(http.MethodGet, base+"/"+m.ID+"/$expand?as_of="+asOf, ""), http.StatusOK, &ex)
		if ex.Version != 1 || ex.LevelLabel != "model" {
			t.Errorf("as_of %s: expand m = v%d %s", asOf, ex.Version, ex.LevelLabel)
		}
		pg := e.list("as_of=" + asOf)
		if got := ids(pg.Items); !slices.Equal(got, []string{exp.ID, m.ID, p.ID}) {
			t.Errorf("as_of %s: list = %v", asOf, got)
		}
		var st stats
		wantJSON(t, e.do(http.MethodGet, base+"/$stats?as_of="+asOf, ""), http.StatusOK, &st)
		if st.Total != 3 {
			t.Errorf("as_of %s: stats total %d, want 3", asOf, st.Total)
		}
	}
	// Now, for comparison: p gone, later there.
	if got := ids(e.list("").Items); !slices.Equal(got, []string{exp.ID, m.ID, later.ID}) {
		t.Errorf("list now = %v", got)
	}
	wantProblem(t, e.do(http.MethodGet, base+"/"+p.ID+"?as_of=0", ""), http.StatusNotFound, typeNotFound)

	// $stats as of now has the shape of $stats: emptied levels at zero.
	var now, asNow stats
	wantJSON(t, e.do(http.MethodGet, base+"/$stats", ""), http.StatusOK, &now)
	last := strconv.FormatUint(e.written()[1], 10)
	wantJSON(t, e.do(http.MethodGet, base+"/$stats?as_of="+last, ""), http.StatusOK, &asNow)
	if !reflect.DeepEqual(now, asNow) {
		t.Errorf("$stats = %+v, as of now %+v", now, asNow)
	}
}

func mustUnescape(s string) string {
	v, err := url.QueryUnescape(s)
	if err != nil {
		panic(err)
	}
	return v
}

// TestIdempotencyKey: the same key and request answer once; another
// request with the key is 422; the key holds on another instance.
func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	body := `{"data":{"name":"once"}}`
	first := e.do(http.MethodPost, base, body, "Idempotency-Key", "k-1")
	var a artifact
	wantJSON(t, first, http.StatusCreated, &a)
	written := e.written()
	again := e.do(http.MethodPost, base, body, "Idempotency-Key", "k-1")
	var b artifact
	wantJSON(t, again, http.StatusCreated, &b)
	if b.ID != a.ID || again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != first.Header.Get("Location") ||
		again.Header.Get("Arbor-Position") != first.Header.Get("Arbor-Position") || first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("replay = %s %v, first %s %v", b.ID, again.Header, a.ID, first.Header)
	}
	if e.written() != written {
		t.Errorf("the replay wrote: %v, was %v", e.written(), written)
	}
	wantProblem(t, e.do(http.MethodPost, base, `{"data":{"name":"other"}}`, "Idempotency-Key", "k-1"), http.StatusUnprocessableEntity, "urn:arbor:error:idempotency-key-reused")

	// An update replayed after a later change still answers as then.
	put := `{"data":{"name":"v2"}}`
	u1 := e.do(http.MethodPut, base+"/"+a.ID, put, "Idempotency-Key", "k-2", "If-Match", `"1"`)
	want(t, u1, http.StatusOK)
	want(t, e.do(http.MethodPut, base+"/"+a.ID, `{"data":{"name":"v3"}}`), http.StatusOK)
	u2 := e.do(http.MethodPut, base+"/"+a.ID, put, "Idempotency-Key", "k-2", "If-Match", `"1"`)
	want(t, u2, http.StatusOK)
	if string(u2.Body) != string(u1.Body) || u2.Header.Get("ETag") != `"2"` || u2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("update replay = %s %s, first %s", u2.Body, u2.Header.Get("ETag"), u1.Body)
	}
	d1 := e.do(http.MethodDelete, base+"/"+a.ID, "", "Idempotency-Key", "k-3")
	want(t, d1, http.StatusNoContent)
	d2 := e.do(http.MethodDelete, base+"/"+a.ID, "", "Idempotency-Key", "k-3")
	want(t, d2, http.StatusNoContent)
	if d2.Header.Get("Idempotent-Replayed") != "true" || d2.Header.Get("Arbor-Position") != d1.Header.Get("Arbor-Position") {
		t.Errorf("delete replay headers %v", d2.Header)
	}
	for _, bad := range []string{"has space", strings.Repeat("k", 256), "ключ"} {
		wantProblem(t, e.do(http.MethodPost, base, body, "Idempotency-Key", bad), http.StatusBadRequest, typeBadRequest)
	}

	// A second instance on the same log knows the key.
	if _, _, err := e.st.KV.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := arbortest.Join(t, e.st.Server, mlPipeline, documents, free)
	srv := other.API()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	arbortest.WaitAll(t, e.st, other)
	r := e.doAt(ts.URL, http.MethodPost, base, body, "Idempotency-Key", "k-1")
	wantJSON(t, r, http.StatusCreated, &b)
	if b.ID != a.ID || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the other instance answered %s, replayed %q", b.ID, r.Header.Get("Idempotent-Replayed"))
	}
}

// TestIdempotencyKeyAtOnce sends one key to two instances at the same
// moment, many times: each time one event, and both answer with it.
func TestIdempotencyKeyAtOnce(t *testing.T) {
	e := newEnv(t)
	// The first instance makes its consumers before another joins (see
	// arbortest.Join).
	e.root("", "warm-up")
	if _, _, err := e.st.KV.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := arbortest.Join(t, e.st.Server, mlPipeline, documents, free)
	ts := httptest.NewServer(other.API().Handler())
	t.Cleanup(ts.Close)
	for i := range 10 {
		start := e.list("").Total
		key := fmt.Sprint("race-", i)
		var (
			wg  sync.WaitGroup
			got [4]artifact
		)
		for j := range got {
			wg.Go(func() {
				u := e.url
				if j%2 == 1 {
					u = ts.URL
				}
				wantJSON(t, e.doAt(u, http.MethodPost, base, `{"data":{"n":1}}`, "Idempotency-Key", key), http.StatusCreated, &got[j])
			})
		}
		wg.Wait()
		for j := range got {
			if got[j].ID != got[0].ID {
				t.Fatalf("key %s: answers name %s and %s", key, got[0].ID, got[j].ID)
			}
		}
		arbortest.WaitAll(t, e.st, other)
		if n := e.list("").Total; n != start+1 {
			t.Fatalf("key %s: %d artifacts made, want 1", key, n-start)
		}
	}
	// Updates without If-Match, whose conflicts fall on the artifact's
	// own subject rather than the key's: one version each time.
	a := e.root("", "updated")
	for i := range 10 {
		key := fmt.Sprint("update-", i)
		var wg sync.WaitGroup
		for j := range 4 {
			wg.Go(func() {
				u := e.url
				if j%2 == 1 {
					u = ts.URL
				}
				want(t, e.doAt(u, http.MethodPut, base+"/"+a.ID, fmt.Sprintf(`{"data":{"n":%d}}`, i), "Idempotency-Key", key), http.StatusOK)
			})
		}
		wg.Wait()
		arbortest.WaitAll(t, e.st, other)
		if v := e.get(a.ID).Version; v != i+2 {
			t.Fatalf("key %s: version %d, want %d: the update was written more than once", key, v, i+2)
		}
	}
}

// TestFilterOverItsLimit: a filter that would run away on the data it
// meets is a 400 naming the limit, not a slow answer.
func TestFilterOverItsLimit(t *testing.T) {
	e := newEnv(t)
	big := make([]string, 2000)
	for i := range big {
		big[i] = strconv.Itoa(i)
	}
	e.create(`{"data":{"big":[` + strings.Join(big, ",") + `]}}`)
	expr := `data.big.exists(x, data.big.exists(y, x + y < 0.0))`
	p := wantProblem(t, e.do(http.MethodGet, base+"?filter="+url.QueryEscape(expr), ""), http.StatusBadRequest, typeBadRequest)
	if !strings.Contains(p.Detail, "turns") {
		t.Errorf("detail %q does not say which limit", p.Detail)
	}
	// The same loops over a short list are fine.
	e.create(`{"data":{"big":[1,2,3]}}`)
	if got := e.list("tag=none&filter=" + url.QueryEscape(expr)); got.Total != 0 {
		t.Errorf("filter over no candidates = %d items", got.Total)
	}
}
