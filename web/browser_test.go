package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"arbor/hierarchy"
	"arbor/internal/apikey"
	"arbor/internal/arbortest"
	"arbor/web"
)

// chromium is the browser the tests drive, as Debian installs it.
const chromium = "/usr/bin/chromium"

var screenshots = flag.String("screenshots", "", "keep the browser tests' screenshots in this directory (default: the test's temporary directory)")

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents", Labels: []string{"project", "document", "version"}}
)

// site is arbor's API and the browser's pages behind a real HTTP server.
type site struct {
	t   *testing.T
	url string
	// key, if set, is the write key the test creates artifacts with.
	key string
}

// serve starts an arbor core with the test hierarchies and serves the API
// and the pages, requiring keys when keys is set.
func serve(t *testing.T, keys *apikey.Set, key string) *site {
	t.Helper()
	st := arbortest.New(t, mlPipeline, documents)
	srv := st.API()
	srv.Pages = web.Pages()
	srv.Keys = keys
	srv.MaxBody, srv.MaxContent, srv.Wait = 1<<20, 8<<20, 5*time.Second
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	// Before the server closes: end the live feeds the browser holds.
	t.Cleanup(srv.CloseStreams)
	return &site{t: t, url: ts.URL, key: key}
}

// create posts body and returns the new artifact's id.
func (s *site) create(body string) string {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), http.MethodPost, s.url+"/api/v1/artifacts", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.key != "" {
		req.Header.Set("X-API-Key", s.key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		s.t.Fatalf("POST %s: %d %s", body, res.StatusCode, b)
	}
	var a struct{ ID string }
	if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
		s.t.Fatalf("POST answered %s: %v", b, err)
	}
	return a.ID
}

// upload puts body as the artifact's content.
func (s *site) upload(id, contentType, body string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), http.MethodPut, s.url+"/api/v1/artifacts/"+id+"/$content", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if s.key != "" {
		req.Header.Set("X-API-Key", s.key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		s.t.Fatalf("PUT $content of %s: %d %s", id, res.StatusCode, b)
	}
}

// lineage is the tree the tests browse.
type lineage struct {
	exp, model, pred, pred2, project string
}

// seed creates an experiment, a model under it and two predictions under
// the model, the first with a DataFrame as its content; and a project in
// the second hierarchy.
func (s *site) seed() lineage {
	s.t.Helper()
	var l lineage
	l.exp = s.create(`{"data": {"experiment_name": "weather_forecast"}, "tags": ["exp-1", "baseline"]}`)
	l.model = s.create(`{"parent_id": "` + l.exp + `", "data": {"model_type": "LinearRegression", "metrics": {"rmse": 0.25}}}`)
	l.pred = s.create(`{"parent_id": "` + l.model + `", "data": {"prediction_date": "2026-11-27",
		"content_type": "application/vnd.chapkit.dataframe+json",
		"content": {"columns": ["rainfall", "temperature", "prediction"], "data": [[110.0, 26.0, 13.2], [90.0, 28.0, 8.5]]}}}`)
	l.pred2 = s.create(`{"parent_id": "` + l.model + `", "data": {"prediction_date": "2026-11-28", "num_predictions": 900}}`)
	l.project = s.create(`{"hierarchy": "documents", "data": {"project_name": "handbook"}}`)
	return l
}

// newBrowser starts a headless Chromium for the test in a profile of its
// own and returns a tab; the browser stops when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser tests need Chromium at %s (apt-get install chromium): %v", chromium, err)
	}
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 860),
		// No network beyond the test server: nothing to update, sync or
		// probe.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit
		// Chromium's helpers may still be writing to the profile for a
		// moment after the browser has gone.
		for i := 0; ; i++ {
			err := os.RemoveAll(profile)
			if err == nil || i == 50 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first run starts the browser: it has no timeout of its own, or
	// the timeout would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	watchErrors(t, ctx)
	return ctx
}

// watchErrors fails the test, once it is done, if the page threw an
// exception or the browser logged an error other than a failed request
// (the API's 401 and 404 are answers the app handles): a script error, or
// something the Content-Security-Policy refused.
func watchErrors(t *testing.T, tab context.Context) {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []string
	)
	err := chromedp.Listen(tab, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level != cdplog.EntryLevelError || e.Entry.Source == cdplog.EntrySourceNetwork {
				return
			}
			msg = string(e.Entry.Source) + ": " + e.Entry.Text
		default:
			return
		}
		mu.Lock()
		errs = append(errs, msg)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	enable := chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, cdplog.Enable, cdp.Empty{})
		return err
	})
	do(t, tab, "enable the browser's log", enable)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser: %s", e)
		}
	})
}

// do runs steps in the tab, each group within 20 s.
func do(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates expr in the tab.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text returns the text of the first element sel matches, once visible.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	do(t, tab, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return eval[string](t, tab, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
}

// waitText waits until the first element sel matches has the text want.
func waitText(t *testing.T, tab context.Context, sel, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	expr := fmt.Sprintf(`document.querySelector(%q)?.textContent.trim() === %q`, sel, want)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingMutation())); err != nil {
		got := eval[string](t, tab, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? "(none)"`, sel))
		t.Fatalf("%s: text %q, want %q: %v", sel, strings.TrimSpace(got), want, err)
	}
}

func node(id string) string { return `.node[data-id="` + id + `"]` }

// row is the row of an artifact in the tree: toggle, label, name, id.
func row(id string) string { return node(id) + " > .row" }

// screenshot saves the whole page as a PNG and logs where.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := *screenshots
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// A user picks a hierarchy, expands a tree level by level, opens a
// prediction (data, breadcrumb, DataFrame), goes up to its model, and sees
// a prediction created meanwhile appear without reloading the page.
func TestBrowse(t *testing.T) {
	s := serve(t, nil, "")
	l := s.seed()
	tab := newBrowser(t)

	do(t, tab, "open the browser",
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#hierarchies a[data-hierarchy="documents"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#feed[data-state="live"]`)),
	)
	do(t, tab, "pick documents",
		chromedp.Click(chromedp.CSS(`#hierarchies a[data-hierarchy="documents"]`)),
		chromedp.WaitVisible(chromedp.CSS(node(l.project))),
	)
	waitText(t, tab, row(l.project)+" .label", "project")
	do(t, tab, "pick ml_pipeline",
		chromedp.Click(chromedp.CSS(`#hierarchies a[data-hierarchy="ml_pipeline"]`)),
		chromedp.WaitVisible(chromedp.CSS(node(l.exp))),
	)
	waitText(t, tab, row(l.exp)+" .label", "experiment")
	waitText(t, tab, row(l.exp)+" .name", "experiment_name: weather_forecast")
	if n := eval[int](t, tab, `document.querySelectorAll("#tree .node").length`); n != 1 {
		t.Errorf("the tree shows %d artifacts of ml_pipeline before any is expanded, want its one root", n)
	}

	do(t, tab, "expand the experiment",
		chromedp.Click(chromedp.CSS(row(l.exp)+" .toggle")),
		chromedp.WaitVisible(chromedp.CSS(node(l.model))),
	)
	waitText(t, tab, row(l.model)+" .label", "model")
	do(t, tab, "expand the model",
		chromedp.Click(chromedp.CSS(row(l.model)+" .toggle")),
		chromedp.WaitVisible(chromedp.CSS(node(l.pred))),
		chromedp.WaitVisible(chromedp.CSS(node(l.pred2))),
	)
	waitText(t, tab, row(l.pred)+" .label", "predictions")

	do(t, tab, "open the first prediction",
		chromedp.Click(chromedp.CSS(row(l.pred)+" .name")),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+l.pred+`"]`)),
	)
	if got := eval[string](t, tab, `location.hash`); got != "#/artifacts/"+l.pred {
		t.Errorf("location.hash = %q, want #/artifacts/%s", got, l.pred)
	}
	checkPrediction(t, tab, l)

	do(t, tab, "go up to the model through the breadcrumb",
		chromedp.Click(chromedp.CSS(`#breadcrumb a[data-id="`+l.model+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+l.model+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#children li[data-id="`+l.pred2+`"]`)),
	)
	if data := text(t, tab, "#data pre"); !strings.Contains(data, `"rmse": 0.25`) {
		t.Errorf("the model's data reads %s, want its metrics", data)
	}
	waitText(t, tab, "#children h2 .count", "2")

	// The page must not reload to show the new prediction: a value kept
	// in the page survives only without one.
	eval[int](t, tab, `window.arborUnreloaded = 42`)
	created := s.create(`{"parent_id": "` + l.model + `", "data": {"prediction_date": "2026-11-29", "num_predictions": 800}}`)
	do(t, tab, "see the new prediction arrive",
		chromedp.WaitVisible(chromedp.CSS(`#children li[data-id="`+created+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(node(created))),
		chromedp.WaitVisible(chromedp.CSS(`#recent a[href="#/artifacts/`+created+`"]`)),
	)
	waitText(t, tab, "#children h2 .count", "3")
	waitText(t, tab, row(created)+" .label", "predictions")
	waitText(t, tab, row(created)+" .name", "prediction_date: 2026-11-29")
	if v := eval[int](t, tab, `window.arborUnreloaded ?? 0`); v != 42 {
		t.Errorf("the page was reloaded to show the new prediction")
	}

	do(t, tab, "open the experiment",
		chromedp.Click(chromedp.CSS(row(l.exp)+" .name")),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+l.exp+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tags .tag`)),
	)
	if tags := eval[[]string](t, tab, `[...document.querySelectorAll("#tags .tag")].map(e => e.textContent)`); !slices.Equal(tags, []string{"exp-1", "baseline"}) {
		t.Errorf("tags = %q, want [exp-1 baseline]", tags)
	}
	waitText(t, tab, "#content p", "No content.")
	waitText(t, tab, "#breadcrumb", "ml_pipeline›experiment experiment_name: weather_forecast")

	do(t, tab, "open the new prediction from the tree",
		chromedp.Click(chromedp.CSS(row(created)+" .name")),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+created+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#breadcrumb a[data-id="`+l.model+`"]`)),
	)
	do(t, tab, "back to the first prediction",
		chromedp.Click(chromedp.CSS(row(l.pred)+" .name")),
		chromedp.WaitVisible(chromedp.CSS(`#content table.dataframe`)),
	)
	screenshot(t, tab, "browse.png")
}

// checkPrediction checks the page of the first prediction: its data, its
// ancestors and its DataFrame.
func checkPrediction(t *testing.T, tab context.Context, l lineage) {
	t.Helper()
	waitText(t, tab, "#artifact h1 .label", "predictions")
	data := text(t, tab, "#data pre")
	var got map[string]any
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatalf("the data shown is not JSON: %v\n%s", err, data)
	}
	want := map[string]any{"prediction_date": "2026-11-27", "content_type": "application/vnd.chapkit.dataframe+json"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("data shown = %v, want %v (the content is under Content)", got, want)
	}
	do(t, tab, "wait for the ancestors",
		chromedp.WaitVisible(chromedp.CSS(`#breadcrumb a[data-id="`+l.exp+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#breadcrumb a[data-id="`+l.model+`"]`)),
	)
	waitText(t, tab, "#breadcrumb",
		"ml_pipeline›experiment experiment_name: weather_forecast›model model_type: LinearRegression›predictions prediction_date: 2026-11-27")
	do(t, tab, "wait for the DataFrame", chromedp.WaitVisible(chromedp.CSS(`#content table.dataframe`)))
	cells := eval[[][]string](t, tab, `[...document.querySelectorAll("#content table.dataframe tr")].map(r => [...r.cells].map(c => c.textContent))`)
	wantCells := [][]string{{"rainfall", "temperature", "prediction"}, {"110", "26", "13.2"}, {"90", "28", "8.5"}}
	if fmt.Sprint(cells) != fmt.Sprint(wantCells) {
		t.Errorf("DataFrame table = %v, want %v", cells, wantCells)
	}
	if href := eval[string](t, tab, `document.querySelector("#content a.download").getAttribute("href")`); href != "api/v1/artifacts/"+l.pred+"/$download" {
		t.Errorf("download link = %q, want the artifact's $download", href)
	}
}

// A link to an artifact opens it, with its ancestors and its place in the
// tree; a link to an unknown artifact says so.
func TestDeepLink(t *testing.T) {
	s := serve(t, nil, "")
	l := s.seed()
	tab := newBrowser(t)

	do(t, tab, "open the link",
		chromedp.Navigate(s.url+"/#/artifacts/"+l.pred),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+l.pred+`"]`)),
	)
	checkPrediction(t, tab, l)
	do(t, tab, "see it in the tree",
		chromedp.WaitVisible(chromedp.CSS(node(l.pred)+".selected")),
		chromedp.WaitVisible(chromedp.CSS(`#hierarchies a.chosen[data-hierarchy="ml_pipeline"]`)),
	)

	do(t, tab, "open a link to the project",
		chromedp.Navigate(s.url+"/#/artifacts/"+strings.ToLower(l.project)),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+l.project+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#hierarchies a.chosen[data-hierarchy="documents"]`)),
	)
	waitText(t, tab, "#artifact h1 .label", "project")

	// Content kept as a file: a DataFrame is still a table, anything else
	// a download.
	frame := s.create(`{"parent_id": "` + l.model + `", "data": {"prediction_date": "2026-11-30"}}`)
	s.upload(frame, "application/vnd.chapkit.dataframe+json", `{"columns": ["region", "cases"], "data": [["north", 12], ["south", 7]]}`)
	weights := s.create(`{"parent_id": "` + l.model + `", "data": {"kind": "weights"}}`)
	s.upload(weights, "application/zip", strings.Repeat("z", 2048))
	do(t, tab, "open a DataFrame kept as a file",
		chromedp.Navigate(s.url+"/#/artifacts/"+frame),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+frame+`"] #content table.dataframe`)),
	)
	cells := eval[[][]string](t, tab, `[...document.querySelectorAll("#content table.dataframe tr")].map(r => [...r.cells].map(c => c.textContent))`)
	if want := [][]string{{"region", "cases"}, {"north", "12"}, {"south", "7"}}; fmt.Sprint(cells) != fmt.Sprint(want) {
		t.Errorf("DataFrame table = %v, want %v", cells, want)
	}
	do(t, tab, "open a file",
		chromedp.Navigate(s.url+"/#/artifacts/"+weights),
		chromedp.WaitVisible(chromedp.CSS(`#artifact[data-id="`+weights+`"] #content a.download`)),
	)
	waitText(t, tab, "#content p", "application/zip, 2.0 KiB. Download")

	do(t, tab, "open a link to an unknown artifact",
		chromedp.Navigate(s.url+"/#/artifacts/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
		chromedp.WaitVisible(chromedp.CSS(`#page-error`)),
	)
	waitText(t, tab, "#page-error", "Artifact with id 01ARZ3NDEKTSV4RRFFQ69G5FAV not found")
}

// With API keys, the page asks for one once, keeps it, and reads the API
// and the live feed with it; a read key is enough.
func TestAPIKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	readKey, err := apikey.Add(file, "viewer", apikey.Read)
	if err != nil {
		t.Fatal(err)
	}
	writeKey, err := apikey.Add(file, "pipeline", apikey.Write)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, keys, writeKey)
	l := s.seed()
	tab := newBrowser(t)

	do(t, tab, "open the browser",
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#key-form`)),
	)
	do(t, tab, "give a wrong key",
		chromedp.SendKeys(chromedp.CSS(`#api-key`), "arb_not-a-key"),
		chromedp.Click(chromedp.CSS(`#key-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#key-form .error`)),
	)
	waitText(t, tab, "#key-form .error", "The API key is not valid")
	do(t, tab, "give the read key",
		chromedp.SendKeys(chromedp.CSS(`#api-key`), readKey),
		chromedp.Click(chromedp.CSS(`#key-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(node(l.exp))),
		chromedp.WaitVisible(chromedp.CSS(`#feed[data-state="live"]`)),
	)
	if got := eval[string](t, tab, `localStorage.getItem("arbor.apiKey")`); got != readKey {
		t.Errorf("the key kept is %q, want the read key", got)
	}

	root := s.create(`{"data": {"experiment_name": "rainfall_2027"}}`)
	do(t, tab, "see a new experiment arrive through the feed",
		chromedp.WaitVisible(chromedp.CSS(node(root))),
	)
	waitText(t, tab, row(root)+" .name", "experiment_name: rainfall_2027")

	do(t, tab, "reload: the key is kept",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(node(root))),
		chromedp.WaitVisible(chromedp.CSS(`#forget-key`)),
	)
	if eval[bool](t, tab, `document.querySelector("#key-form") !== null`) {
		t.Errorf("the page asked for the key again after a reload")
	}
	do(t, tab, "open the prediction with the key",
		chromedp.Navigate(s.url+"/#/artifacts/"+l.pred),
		chromedp.WaitVisible(chromedp.CSS(`#content table.dataframe`)),
	)
}

// The pages are served without a key, even when the API wants one, and
// an unknown file under /ui/ is a 404 problem.
func TestPagesAreOpen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	if _, err := apikey.Add(file, "viewer", apikey.Read); err != nil {
		t.Fatal(err)
	}
	keys, err := apikey.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, keys, "")
	for _, c := range []struct {
		path, status, ctype string
	}{
		{"/", "200 OK", "text/html; charset=utf-8"},
		{"/ui/app.js", "200 OK", "text/javascript; charset=utf-8"},
		{"/ui/app.css", "200 OK", "text/css; charset=utf-8"},
		{"/ui/nothing.js", "404 Not Found", "application/problem+json"},
		{"/api/v1/artifacts", "401 Unauthorized", "application/problem+json"},
	} {
		res, err := http.Get(s.url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Status != c.status || res.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %s %s, want %s %s", c.path, res.Status, res.Header.Get("Content-Type"), c.status, c.ctype)
		}
	}
	res, err := http.Get(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/", nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("GET / with its ETag: %s, want 304", res2.Status)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}
