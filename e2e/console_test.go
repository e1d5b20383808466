package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// hostile is text that would run script if a page inserted it as markup.
const hostile = `<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2">`

// The console in a real browser, end to end: alice asks for a gated
// certificate through the API; bob, with the keyboard only, signs in,
// finds the request, approves it with a note, and sees the new version and
// downloads its chain; alice's own attempt is refused by two-person
// integrity; carol, a viewer, has no decide buttons, and a forced decision
// is refused; hostile text renders as text. Every page fits a phone's
// width and a 200% zoom, and every control has a label.
func TestConsoleInABrowser(t *testing.T) {
	b := newBrowser(t)
	defer func() { t.Logf("browser test time: %s", time.Since(b.start).Round(100*time.Millisecond)) }()

	profile := newProfile(t, true)
	created := newCert(t, "alice", profile)
	certID, approvalID, jobID := certID(created), created.str("approval_id"), created.str("job_id")
	request := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+approvalID, nil)
	subject := request.Body["subject"].(map[string]any)

	bob := b.tab(t, "bob")
	t.Run("bob approves with the keyboard only", func(t *testing.T) {
		bob.t = t
		bob.open("")
		bob.tabTo("the key field", `el.id === "apikey"`)
		bob.do(chromedp.KeyEvent(keys["bob"]), chromedp.KeyEvent("\r"))
		bob.waitFor("the pending approvals", `document.title.startsWith("Pending approvals")`, 10*time.Second)
		if v := js[string](bob, `sessionStorage.getItem("certctl.apiKey")`); v != keys["bob"] {
			t.Errorf("the key is not in session storage")
		}
		if n := js[int](bob, `localStorage.length`); n != 0 || strings.Contains(js[string](bob, "location.href"), "cck_") {
			t.Errorf("the key left session storage: localStorage has %d items, URL %s", n, js[string](bob, "location.href"))
		}
		// The list refreshes by itself: the request appears without a reload
		// (the pending index may lag the write a little).
		row := fmt.Sprintf(`a[href="#/approvals/%s"]`, approvalID)
		bob.waitFor("the request in the list", fmt.Sprintf("document.querySelector(%q)", row), 15*time.Second)
		if got := bob.text(row); got != subject["common_name"].(string)+" (+1 more)" {
			t.Errorf("list row says %q", got)
		}
		bob.screenshot("pending-approvals")
		bob.tabTo("the request's link", fmt.Sprintf("el.getAttribute('href') === %q", "#/approvals/"+approvalID))
		bob.do(chromedp.KeyEvent("\r"))
		bob.at("#/approvals/" + approvalID)

		// Everything an approver must see before deciding.
		page := bob.text("#view")
		for _, want := range []string{
			subject["common_name"].(string), "www." + subject["common_name"].(string), "ECDSA_P256",
			subject["public_key_sha256"].(string), "90 days", "Profile " + profile, "version 1", "alice",
			"approval_requested", "Pending",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the request page does not show %q", want)
			}
		}
		if strings.Contains(page, "Reason") {
			t.Error("a Reason row without a reason")
		}
		bob.tabTo("the note", `el.id === "note"`)
		bob.do(chromedp.KeyEvent("ticket SEC-42"))
		bob.tabTo("the approve button", `el.id === "approve"`)
		bob.screenshot("request-page")
		bob.do(chromedp.KeyEvent("\r"))
		bob.waitFor("the approval", `document.getElementById("flash")?.textContent === "Approved. The job now issues the certificate."`, 10*time.Second)
		if js[string](bob, "document.activeElement.id") != "flash" {
			t.Error("focus did not move to the outcome")
		}
		after := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+approvalID, nil)
		if after.str("state") != "approved" || after.str("decided_by") != "bob" || after.str("note") != "ticket SEC-42" {
			t.Fatalf("after the click: %s", after.Raw)
		}
		bob.waitFor("the decision in the history", `document.getElementById("view").textContent.includes("approval_approved")`, 5*time.Second)
	})

	t.Run("the new version and its chain", func(t *testing.T) {
		bob.t = t
		waitJob(t, jobID, "Completed")
		version := must(t, http.StatusOK, "carol", "GET", "/api/v1/certificates/"+certID+"/versions", nil).Body["data"].([]any)[0].(map[string]any)
		bob.tabTo("the certificate link", fmt.Sprintf("el.getAttribute('href') === %q", "#/certificates/"+certID))
		bob.do(chromedp.KeyEvent("\r"))
		bob.waitFor("the issued version", fmt.Sprintf(`[...document.querySelectorAll(".serial")].some(e => e.textContent === %q)`, version["serial_number"]), 15*time.Second)
		if got := bob.text("#cert-status"); got != "Active" {
			t.Errorf("status %q", got)
		}
		bob.screenshot("certificate")

		if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: b.dir,
		}); err != nil {
			t.Fatal(err)
		}
		bob.do(chromedp.Click(chromedp.CSS("button.download")))
		file := filepath.Join(b.dir, certID+"-"+version["serial_number"].(string)+".pem")
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := os.ReadFile(file)
			if err == nil && string(got) == version["pem_chain"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("downloaded chain %s: %v (%d bytes)", file, err, len(got))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if u := js[string](bob, `location.href`); strings.Contains(u, "cck_") || strings.Contains(u, "blob:") {
			t.Errorf("URL %s", u)
		}
	})

	// A second request of alice's, which she then tries to approve.
	second := newCert(t, "alice", profile)
	secondID := second.str("approval_id")

	t.Run("alice cannot approve her own request", func(t *testing.T) {
		alice := b.tab(t, "alice")
		alice.signIn()
		alice.goTo("#/approvals/" + secondID)
		alice.waitFor("the request page", `document.getElementById("decide")`, 10*time.Second)
		if !strings.Contains(alice.text(".notice"), "You made this request") {
			t.Errorf("no notice that alice made the request: %q", alice.text(".notice"))
		}
		alice.do(chromedp.SendKeys(chromedp.ID("note"), "I know what I asked for"), chromedp.Click(chromedp.ID("approve")))
		alice.waitFor("the refusal", `document.getElementById("decide-result").textContent`, 10*time.Second)
		msg := alice.text("#decide-result")
		if msg != "You made this request, so you cannot decide it: two-person integrity means a different person must approve or reject it." {
			t.Errorf("refusal says %q", msg)
		}
		alice.screenshot("two-person-refusal")
		if s := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+secondID, nil).str("state"); s != "pending" {
			t.Fatalf("state %s after alice's attempt", s)
		}
		alice.clean()
	})

	t.Run("carol sees no decide buttons and a forced decision is refused", func(t *testing.T) {
		carol := b.tab(t, "carol")
		carol.signIn()
		if js[bool](carol, `!document.getElementById("nav-audit").hidden`) {
			t.Error("a viewer sees the audit trail in the menu")
		}
		carol.goTo("#/approvals/" + secondID)
		carol.waitFor("the request page", `document.getElementById("cannot-decide")`, 10*time.Second)
		if n := js[int](carol, `document.querySelectorAll("#decide, #approve, #reject").length`); n != 0 {
			t.Errorf("a viewer sees %d decide controls", n)
		}
		if got := carol.text("#cannot-decide"); !strings.Contains(got, "deciding needs the approver or admin role; your key holds: viewer") {
			t.Errorf("cannot-decide says %q", got)
		}
		// From the page's JavaScript console, with carol's key.
		status := js[int](carol, fmt.Sprintf(`fetch("../api/v1/approvals/%s/approve", {method: "POST",
			headers: {"X-Api-Key": sessionStorage.getItem("certctl.apiKey"), "Content-Type": "application/json"}, body: "{}"}).then(r => r.status)`, secondID))
		if status != http.StatusForbidden {
			t.Errorf("forced approve from the page: %d, want 403", status)
		}
		// A tampered client that believes carol may decide gets the form;
		// the API still refuses, and the page says so in plain words.
		carol.fulfil("*/api/v1/whoami", func(string) (int, any) {
			return http.StatusOK, map[string]any{"principal": "carol", "type": "User", "roles": []string{"viewer", "approver"}}
		})
		carol.do(chromedp.Reload())
		carol.waitFor("the forged decide form", `document.getElementById("approve")`, 10*time.Second)
		carol.do(chromedp.Click(chromedp.ID("approve")))
		carol.waitFor("the refusal", `document.getElementById("decide-result").textContent`, 10*time.Second)
		msg := carol.text("#decide-result")
		if msg != "Refused: approving this request needs the approver or admin role, which your key does not hold." {
			t.Errorf("refusal says %q", msg)
		}
		if strings.ContainsAny(msg, "{}\"") {
			t.Errorf("raw JSON in %q", msg)
		}
		carol.screenshot("role-refusal")
		if s := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+secondID, nil).str("state"); s != "pending" {
			t.Fatalf("state %s after carol's attempts", s)
		}
		carol.clean()
	})

	t.Run("a rejection needs a note and hostile text stays text", func(t *testing.T) {
		bob.t = t
		bob.goTo("#/approvals/" + secondID)
		bob.waitFor("the request page", `document.getElementById("reject")`, 10*time.Second)
		bob.do(chromedp.Click(chromedp.ID("reject")))
		if got := bob.text("#decide-result"); got != "A rejection needs a note saying why." || js[string](bob, "document.activeElement.id") != "note" {
			t.Errorf("empty rejection: %q, focus on %s", got, js[string](bob, "document.activeElement.id"))
		}
		bob.do(chromedp.SendKeys(chromedp.ID("note"), hostile), chromedp.Click(chromedp.ID("reject")))
		bob.waitFor("the rejection", `document.getElementById("flash")?.textContent.startsWith("Rejected.")`, 10*time.Second)
		if got := js[string](bob, `document.querySelector(".note-text").textContent`); got != hostile {
			t.Errorf("note shown as %q", got)
		}
		inert(t, bob)
	})

	t.Run("a hostile common name and profile name stay text", func(t *testing.T) {
		id := uniq("evil")
		must(t, http.StatusCreated, "alice", "POST", "/api/v1/profiles", map[string]any{
			"id": id, "name": hostile, "requires_approval": true, "allowed_names": []string{"**." + zone(id)},
		})
		evil := newCert(t, "alice", id).str("approval_id")
		// The API refuses such a common name, so the test forges the answer
		// the page reads: the page must not trust what it shows either.
		view := must(t, http.StatusOK, "bob", "GET", "/api/v1/approvals/"+evil, nil).Body
		view["subject"].(map[string]any)["common_name"] = hostile
		bob.fulfil("*/api/v1/approvals/"+evil, func(string) (int, any) { return http.StatusOK, view })
		bob.goTo("#/approvals/" + evil)
		bob.waitFor("the request page", `document.getElementById("common-name")`, 10*time.Second)
		if got := bob.text("#common-name"); got != hostile {
			t.Errorf("common name shown as %q", got)
		}
		if !strings.Contains(bob.text("#subject"), hostile+" — "+id) {
			t.Errorf("profile name not shown as text: %q", bob.text("#subject"))
		}
		inert(t, bob)
		bob.screenshot("hostile-text")
		must(t, http.StatusOK, "bob", "POST", "/api/v1/approvals/"+evil+"/reject", map[string]string{"note": "test"})
	})

	t.Run("a decision that lost the race is said in plain words", func(t *testing.T) {
		bob.t = t
		raced := newCert(t, "alice", profile).str("approval_id")
		bob.goTo("#/approvals/" + raced)
		bob.waitFor("the decide form", `document.getElementById("approve")`, 10*time.Second)
		must(t, http.StatusOK, "admin", "POST", "/api/v1/approvals/"+raced+"/reject", map[string]string{"note": "decided first"})
		bob.do(chromedp.Click(chromedp.ID("approve")))
		bob.waitFor("the conflict", `document.getElementById("flash")?.textContent.startsWith("Not done:")`, 10*time.Second)
		msg := bob.text("#flash")
		if !strings.Contains(msg, "someone else decided, or the request expired") || strings.Contains(msg, "{") {
			t.Errorf("conflict says %q", msg)
		}
		if state := bob.text(".state"); !strings.Contains(state, "Rejected") || js[int](bob, `document.querySelectorAll("#decide").length`) != 0 {
			t.Errorf("after the conflict the page shows %q and %d decide forms", state, js[int](bob, `document.querySelectorAll("#decide").length`))
		}
	})

	t.Run("a vote under a quorum says what is still needed", func(t *testing.T) {
		bob.t = t
		quorum := policyProfile(t, map[string]any{"required_approvals": 2})
		voting := newCert(t, "alice", quorum).str("approval_id")
		bob.goTo("#/approvals/" + voting)
		bob.waitFor("the decide form", `document.getElementById("approve")`, 10*time.Second)
		if page := bob.text("#request"); !strings.Contains(page, "approvers: 2 of any approver") || !strings.Contains(page, "0 of 2") {
			t.Errorf("the request does not show its policy and votes: %q", page)
		}
		bob.do(chromedp.Click(chromedp.ID("approve")))
		bob.waitFor("the vote", `document.getElementById("flash")?.textContent.startsWith("Your vote is recorded.")`, 10*time.Second)
		if msg := bob.text("#flash"); msg != "Your vote is recorded. The request still needs 1 more approval from approvers (any approver)." {
			t.Errorf("vote says %q", msg)
		}
		if n := js[int](bob, `document.querySelectorAll("#decide").length`); n != 0 || !strings.Contains(bob.text("#voted"), "You have voted on this request") {
			t.Errorf("after voting: %d decide forms, notice %q", n, bob.text("#voted"))
		}
		if a := must(t, http.StatusOK, "carol", "GET", "/api/v1/approvals/"+voting, nil); a.str("state") != "pending" || missing(a) != 1 {
			t.Errorf("after bob's vote: %s", a.Raw)
		}
		must(t, http.StatusOK, "admin", "POST", "/api/v1/approvals/"+voting+"/approve", map[string]string{"note": "second"})
	})

	t.Run("phone width and 200% zoom", func(t *testing.T) {
		bob.t = t
		admin := b.tab(t, "admin")
		admin.signIn()
		for _, size := range []struct {
			name  string
			w, h  int64
			scale float64
		}{{"phone", 390, 844, 3}, {"zoom200", 640, 400, 2}, {"desktop", 1280, 800, 1}} {
			for _, tb := range []*tab{bob, admin} {
				tb.viewport(size.w, size.h, size.scale)
			}
			for _, pg := range []struct {
				tb    *tab
				route string
				ready string
			}{
				{bob, "#/approvals", `document.title.startsWith("Pending approvals")`},
				{bob, "#/approvals/" + approvalID, `document.getElementById("subject")`},
				{bob, "#/certificates", `document.title.startsWith("Certificates")`},
				{bob, "#/certificates/" + certID, `document.querySelector(".serial")`},
				{bob, "#/jobs", `document.getElementById("job-status")`},
				{bob, "#/jobs/" + jobID, `document.getElementById("job-status-value")`},
				{admin, "#/audit", `document.getElementById("audit-action")`},
			} {
				pg.tb.goTo(pg.route)
				pg.tb.waitFor(pg.route, pg.ready, 10*time.Second)
				pg.tb.fits(size.name + " " + pg.route)
			}
			if size.name == "phone" {
				bob.goTo("#/approvals/" + approvalID)
				bob.waitFor("the request page", `document.getElementById("subject")`, 10*time.Second)
				bob.screenshot("request-phone")
			}
		}
		// The sign-in page too.
		bob.do(chromedp.Click(chromedp.ID("signout")))
		bob.waitFor("the sign-in form", `!document.getElementById("signin").hidden`, 5*time.Second)
		if js[string](bob, `sessionStorage.getItem("certctl.apiKey") || ""`) != "" {
			t.Error("the key outlived sign-out")
		}
		bob.fits("sign-in")
		bob.screenshot("sign-in")
		admin.clean()
	})

	t.Run("auditors filter the audit trail", func(t *testing.T) {
		admin := b.tab(t, "admin")
		admin.signIn()
		admin.goTo("#/audit")
		admin.waitFor("the audit filters", `document.getElementById("audit-action")`, 10*time.Second)
		admin.do(
			chromedp.SendKeys(chromedp.ID("audit-actor"), "bob"),
			chromedp.SendKeys(chromedp.ID("audit-resource"), approvalID),
			chromedp.SetValue(chromedp.ID("audit-action"), "approval_approved"),
			chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		)
		admin.waitFor("the filtered rows", `document.querySelectorAll("#view tbody tr").length === 1`, 10*time.Second)
		if row := admin.text("#view tbody tr"); !strings.Contains(row, "approval_approved") || !strings.Contains(row, "ticket SEC-42") {
			t.Errorf("audit row %q", row)
		}
		admin.clean()
	})
	bob.t = t
	bob.clean()
}

// inert checks that nothing hostile ran or became an element.
func inert(t *testing.T, tb *tab) {
	t.Helper()
	if v := js[string](tb, `String(window.__pwned)`); v != "undefined" {
		t.Errorf("hostile text ran: window.__pwned = %s", v)
	}
	if n := js[int](tb, `document.querySelectorAll("#view script, #view img, [onerror]").length`); n != 0 {
		t.Errorf("hostile text became %d elements", n)
	}
}
