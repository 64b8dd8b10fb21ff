// Command mutate checks that the test suite catches the mutations listed in
// its table: each is a bug in safety-relevant code that a specific test must
// notice. For each mutation it copies the working tree (the files git tracks
// or would track) into a temporary directory, rewrites the code there, runs
// the named tests of the package, and reports caught (the tests failed) or
// survived (they passed). The working tree is never modified.
//
//	go run ./scripts/mutate             # all mutations
//	go run ./scripts/mutate -run oneway # those whose name matches
//	go run ./scripts/mutate -v          # with the output of the tests
//
// A mutation finds the code it changes by a regular expression over the
// non-test Go files of its package, not by file and line, so that it
// survives files being split or moved. When the pattern matches fewer or
// more places than the mutation expects (the code was rewritten), the
// mutation is reported as stale, naming the pattern, and the table below
// must be updated. The unmutated tests run first: they must pass.
//
// Exit status: 0 when every mutation is caught; 1 when one survives, is
// stale, or does not compile; 2 on a usage or setup error.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// mutation is one deliberate bug and the tests that must catch it.
type mutation struct {
	name string
	why  string // the bug users would pay for
	pkg  string // package directory, relative to the module root
	// pattern is matched against each non-test .go file of pkg (whole
	// file, (?s) not implied); every match is replaced by replace (with
	// regexp.Expand syntax, ${1}).
	pattern string
	replace string
	matches int    // how many matches the pattern must have over the package
	test    string // -run pattern of the tests that must fail
	testPkg string // the package of those tests, when not pkg
}

// mutations is issue 16's table: each survived the suite before its test
// was written. Add to it whenever a review finds a mutation that survives.
var mutations = []mutation{
	{
		name:    "crew-sees-uncrewed",
		why:     "crew could read every movement that has no crew yet (detainee, sites, appointment)",
		pkg:     ".",
		pattern: `(case u\.Role == RoleCrew:\s*return m\.HasCrewMember\(u\.OfficerID\))`,
		replace: `${1} || len(m.Crew) == 0`,
		matches: 1,
		test:    "TestMovementObjectRules|TestMovementObjectRules_NoCrew",
	},
	{
		name:    "crew-sees-uncrewed-web",
		why:     "the API would show crew a movement not yet crewed",
		pkg:     ".",
		pattern: `(case u\.Role == RoleCrew:\s*return m\.HasCrewMember\(u\.OfficerID\))`,
		replace: `${1} || len(m.Crew) == 0`,
		matches: 1,
		test:    "TestMovements_CrewCannotSeeUncrewed",
		testPkg: "web",
	},
	{
		name:    "snap-ring-early-stop",
		why:     "Snap would stop its ring search one ring early and return a farther road",
		pkg:     "roadnet",
		pattern: `float64\(ring-1\)\*cellM > best`,
		replace: `float64(ring)*cellM > best`,
		matches: 1,
		test:    "TestSnapNearestSegment",
	},
	{
		name:    "oneway-reverse-forward",
		why:     "oneway=-1 roads would be driven the wrong way",
		pkg:     "roadnet",
		pattern: `(case "-1", "reverse":\s*return )-1`,
		replace: `${1}1`,
		matches: 1,
		test:    "TestOnewayTags|TestOnewayEdges",
	},
	{
		name:    "oneway-edge-direction",
		why:     "the importer would add the edge of a one-way road in the wrong direction",
		pkg:     "roadnet",
		pattern: `if w\.oneway >= 0 \{`,
		replace: `if w.oneway <= 0 {`,
		matches: 1,
		test:    "TestOnewayEdges",
	},
	{
		name: "committer-sync-normal",
		why: "position commits would run with synchronous=NORMAL and nothing fsyncing the WAL, " +
			"acknowledged records lost on power failure (FULL restored afterwards, so service calls see FULL)",
		pkg:     "sqlite",
		pattern: `w\.db\.walPath != ""`,
		replace: `true`,
		matches: 2,
		test:    "TestCommitterSyncDuringCommit",
	},
	{
		name:    "intercept-ties-escape",
		why:     "a unit arriving exactly when the fugitive passes would not count as intercepting",
		pkg:     "intercept",
		pattern: `if rt\.t >= a\[v\] \{`,
		replace: `if rt.t > a[v] {`,
		matches: 1,
		test:    "TestSolveMatchesBruteForce|TestWinterswijkOptimum",
	},
	{
		name:    "intercept-stopped-bound",
		why:     "a search stopped by its time limit would claim a bound below the optimum (a false proof)",
		pkg:     "intercept",
		pattern: `(if s\.stopped \{\s*s\.pending = max\(s\.pending, )b\)`,
		replace: `${1}cov)`,
		matches: 2,
		test:    "TestStoppedBoundIsValid",
	},
	// Issue 12: the schedule's protection.
	{
		name:    "route-stored-in-clear",
		why:     "a movement's drawn route would be written to the database file in clear",
		pkg:     "internal/sqlstore",
		pattern: `route, err = db\.sealText\(adRoute\(m\.Ref\), js\)`,
		replace: `route, err = js, nil`,
		matches: 1,
		test:    "TestSealedAtRest",
		testPkg: "sqlite",
	},
	{
		name:    "briefing-opens-at-release",
		why:     "the crew lead would learn the departure at release, not at the briefing",
		pkg:     ".",
		pattern: `a\.Open = released\(m\.State\) && \(m\.State != StateReleased \|\| m\.PlannedDeparture != nil && !now\.Before\(m\.PlannedDeparture\.Add\(-lead\)\)\)`,
		replace: `a.Open = released(m.State)`,
		matches: 1,
		test:    "TestScheduleReleasedOnNeedToKnow",
		testPkg: "web",
	},
	{
		name:    "schedule-not-withheld",
		why:     "a movement would carry its departure and route to readers it is not released to",
		pkg:     "web",
		pattern: `if !a\.Open \{\s*return &withheldMovement`,
		replace: `if false { return &withheldMovement`,
		matches: 1,
		test:    "TestScheduleReleasedOnNeedToKnow|TestMovements_LiaisonSeesNoSchedule",
	},
	{
		name:    "schedule-read-unaudited",
		why:     "reads that disclose a schedule would leave no audit entry",
		pkg:     "web",
		pattern: `noteSchedule\(ctx, m\.ID, fields\.\.\.\)\n`,
		replace: "_ = fields\n",
		matches: 1,
		test:    "TestAuditRecordsScheduleReadsWritesAndRefusals",
	},
	{
		name:    "verify-trusts-stored-leaves",
		why:     "audit verify would not compare entries with the hashes stored when appended, and name no entry",
		pkg:     "audit",
		pattern: `ok && h != hs\[0\]`,
		replace: `ok && h != h`,
		matches: 1,
		test:    "TestVerifyEverySingleByteChange",
	},
	// Issue 13: the response to an attack.
	{
		name:    "response-sighting-keeps-all",
		why:     "a sure sighting would keep every escape route: the re-plan would ignore it",
		pkg:     "response",
		pattern: `if (math\.Abs\(r\.TimesS\[i\]-ts\) <= slack &&)`,
		replace: `if true || ${1}`,
		matches: 1,
		test:    "TestSightingFiltersRoutes",
	},
	{
		name:    "response-outline-joins-diagonals",
		why:     "two areas touching at a corner would be traced as one ring that crosses itself",
		pkg:     "response",
		pattern: `ox == -dy && oy == dx`,
		replace: `ox == dy && oy == -dx`,
		matches: 1,
		test:    "TestOutlineOfKnownCells",
	},
	{
		name:    "response-committed-unit-planned",
		why:     "a unit committed to another incident would be planned again",
		pkg:     "cmd/convoi",
		pattern: `ok && other != inc\.ID \{`,
		replace: `ok && other != inc.ID && false {`,
		matches: 1,
		test:    "TestIncidentResponse",
	},
	{
		name:    "response-invalid-fix",
		why:     "a unit would be placed at a fix its tracker marked invalid",
		pkg:     "cmd/convoi",
		pattern: `len\(ps\) == 1 && ps\[0\]\.Valid`,
		replace: `len(ps) == 1 && !ps[0].Valid`,
		matches: 1,
		test:    "TestPlanUsesTrackerFix",
	},
	{
		name:    "incident-empty-state",
		why:     "PATCH {\"state\": \"\"} would store an incident in no state",
		pkg:     ".",
		pattern: `if upd\.State != nil && !upd\.State\.Valid\(\)`,
		replace: `if upd.State != nil && false`,
		matches: 1,
		test:    "TestStore",
		testPkg: "sqlite",
	},
	// Issue 14: the conformance suite's webhook and device secret cases,
	// on the services both stores share.
	{
		name:    "webhook-disabled-delivered",
		why:     "a disabled webhook subscription would still receive deliveries",
		pkg:     "internal/sqlstore",
		pattern: `SELECT id, topics FROM webhooks WHERE disabled = false`,
		replace: `SELECT id, topics FROM webhooks`,
		matches: 1,
		test:    "TestStore",
		testPkg: "sqlite",
	},
	{
		name:    "webhook-claim-no-lease",
		why:     "a claimed delivery would not be leased: two senders would post the same message at once",
		pkg:     "internal/sqlstore",
		pattern: `d\.Attempts, tx\.time\(until\), d\.ID`,
		replace: `d.Attempts, tx.time(now), d.ID`,
		matches: 1,
		test:    "TestStore",
		testPkg: "sqlite",
	},
	{
		name:    "device-secret-disabled",
		why:     "a disabled tracker could still log in to the MQTT broker with its secret",
		pkg:     "internal/sqlstore",
		pattern: ` AND t\.disabled = false`,
		replace: ``,
		matches: 1,
		test:    "TestStore",
		testPkg: "sqlite",
	},
	{
		name:    "cap-open-polygon",
		why:     "an alert with an open polygon would pass the CAP 1.2 check",
		pkg:     "cap",
		pattern: `if a != b \{`,
		replace: `if a != b && false {`,
		matches: 1,
		test:    "TestCheckRejects",
	},
	{
		name:    "cap-info-open-ended",
		why:     "cap.Check would let info end with elements of another namespace, which the CAP 1.2 schema refuses",
		pkg:     "cap",
		pattern: `var openEnded = map\[string\]bool\{"alert": true\}`,
		replace: `var openEnded = map[string]bool{"alert": true, "info": true}`,
		matches: 1,
		test:    "TestSchemaRejects",
	},
	{
		name:    "ramming-past-the-booth",
		why:     "the simulated attackers would ram the van past La Turbie's booths, on the one-way ramp out of the map: nothing to plan",
		pkg:     "cmd/convoi",
		pattern: `if cs\[i\]\.nodes >= best/2 \{`,
		replace: `if cs[i].nodes >= 0 {`,
		matches: 1,
		test:    "TestDemoRammingResponse",
	},
	{
		name:    "tiles-shifted",
		why:     "the map would draw every road a few metres off the road the engine routes on",
		pkg:     "tiles",
		pattern: `\(t\.ys\[p\]\*scale - ty\) \* Extent\}`,
		replace: `(t.ys[p]*scale-ty)*Extent + 3}`,
		matches: 1,
		test:    "TestTile_EveryNodeOnARoad",
	},
	{
		name:    "tiles-public",
		why:     "anyone reaching the server could read the map tiles without signing in",
		pkg:     "web",
		pattern: `Roles: rAll, handle: h\}`,
		replace: `Roles: rAll, Public: true, handle: h}`,
		matches: 1,
		test:    "TestUIAndTiles",
	},
}

func main() {
	run := flag.String("run", "", "only the mutations whose name matches this regular expression")
	verbose := flag.Bool("v", false, "print the output of the tests")
	flag.Usage = func() { // not "Usage of /tmp/go-build.../exe/mutate"
		fmt.Fprintln(flag.CommandLine.Output(), "Usage: go run ./scripts/mutate [-run REGEXP] [-v]\n\nFlags:")
		flag.PrintDefaults()
	}
	flag.Parse()
	var filter *regexp.Regexp
	if *run != "" {
		var err error
		if filter, err = regexp.Compile(*run); err != nil {
			fmt.Fprintln(os.Stderr, "mutate: -run:", err)
			os.Exit(2)
		}
	}
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "convoi-mutate-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		fmt.Fprintln(os.Stderr, "mutate: copy the tree:", err)
		os.Exit(2)
	}

	var todo []mutation
	for _, m := range mutations {
		if filter == nil || filter.MatchString(m.name) {
			todo = append(todo, m)
		}
	}
	// The unmutated tests must pass, or "caught" means nothing: one run
	// per package of every test the mutations name.
	baseline := map[string][]string{}
	var pkgs []string
	for _, m := range todo {
		p := testPackage(m)
		if baseline[p] == nil {
			pkgs = append(pkgs, p)
		}
		baseline[p] = append(baseline[p], m.test)
	}
	for _, p := range pkgs {
		run := strings.Join(baseline[p], "|")
		if out, ok := goTest(tmp, p, run); !ok {
			fmt.Printf("BASELINE FAILS: go test ./%s -run '^(%s)$' fails without any mutation:\n%s\n", p, run, out)
			os.Exit(1)
		}
	}
	bad := 0
	for _, m := range todo {
		start := time.Now()
		status, detail := apply(tmp, m, *verbose)
		fmt.Printf("%-9s %-24s %5.1fs  %s\n", status, m.name, time.Since(start).Seconds(), detail)
		if status != "caught" {
			bad++
		}
	}
	fmt.Printf("%d mutations, %d caught, %d not\n", len(todo), len(todo)-bad, bad)
	if bad > 0 {
		os.Exit(1)
	}
}

func testPackage(m mutation) string {
	if m.testPkg != "" {
		return m.testPkg
	}
	return m.pkg
}

// apply mutates the copy at dir, runs the mutation's tests and restores the
// copy. The status is caught, survived, stale or broken.
func apply(dir string, m mutation, verbose bool) (status, detail string) {
	re, err := regexp.Compile(m.pattern)
	if err != nil {
		return "stale", fmt.Sprintf("bad pattern %q: %v", m.pattern, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, m.pkg, "*.go"))
	if err != nil {
		return "stale", err.Error()
	}
	originals := map[string][]byte{}
	defer func() {
		for f, b := range originals {
			os.WriteFile(f, b, 0o644)
		}
	}()
	n := 0
	var where []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "stale", err.Error()
		}
		k := len(re.FindAllIndex(b, -1))
		if k == 0 {
			continue
		}
		n += k
		rel, _ := filepath.Rel(dir, f)
		where = append(where, rel)
		originals[f] = b
		if err := os.WriteFile(f, re.ReplaceAll(b, []byte(m.replace)), 0o644); err != nil {
			return "stale", err.Error()
		}
	}
	if n != m.matches {
		return "stale", fmt.Sprintf("pattern %q matches %d places in ./%s (want %d): the code changed: write the equivalent bug for the new code into the table in scripts/mutate/main.go",
			m.pattern, n, m.pkg, m.matches)
	}
	sort.Strings(where)
	out, ok := goTest(dir, testPackage(m), m.test)
	if verbose {
		fmt.Println(out)
	}
	switch {
	case bytes.Contains([]byte(out), []byte("[build failed]")) || bytes.Contains([]byte(out), []byte("[setup failed]")):
		return "broken", fmt.Sprintf("the mutant of %s does not compile:\n%s", strings.Join(where, ", "), out)
	case ok:
		return "SURVIVED", fmt.Sprintf("%s in %s; go test ./%s -run '%s' passes", m.why, strings.Join(where, ", "), testPackage(m), m.test)
	}
	return "caught", fmt.Sprintf("by %s (%s)", m.test, strings.Join(where, ", "))
}

// goTest runs the tests matching run in ./pkg of dir.
func goTest(dir, pkg, run string) (string, bool) {
	cmd := exec.Command("go", "test", "-count=1", "-run", "^("+run+")$", "./"+pkg)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from inside the convoi module")
	}
	return filepath.Dir(mod), nil
}

// copyTree copies the files git tracks, or would track, under root to dst.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		} else if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := copyFile(src, to); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
