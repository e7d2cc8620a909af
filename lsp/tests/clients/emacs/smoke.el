;;; smoke.el --- `flowc lsp' in Emacs through Eglot  -*- lexical-binding: t -*-

;;; Commentary:

;; A smoke test of `flowc lsp' in a real Emacs (28+, eglot 1.9+, batch mode):
;; copy an example, inject an error after non-ASCII text, visit the copy with
;; Eglot managing it, wait for Flymake's diagnostics and compare them with what
;; `flowc check --format json' says of the same file: the region (Emacs counts
;; characters, as check's columns do, so a wrong UTF-16 conversion shows), the
;; severity, and "[CODE]: message" as Eglot writes it.  Then fix the buffer and
;; wait for the errors to clear.  Then, on a copy of the `shop' fixture (main.flow
;; imports types.flow), what a user reaches first through Eglot's own commands:
;; hover, xref definitions, completion-at-point after a typed `.',
;; `eglot-format-buffer' and `eglot-rename' across both files, after which
;; `flowc check' still passes.  Exits 0 when everything matches, 1 otherwise.
;;
;;   FLOWC_BIN=target/debug/flowc EXAMPLE=examples/quickstart.flow \
;;     emacs --batch -Q -l lsp/tests/clients/emacs/smoke.el

;;; Code:

(require 'package)
;; Debian's elpa-eglot lives here; -Q skips the site start-up that would add it.
(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(require 'eglot)
(require 'flymake)
(require 'json)
(require 'cl-lib)

(defconst smoke-patience (string-to-number (or (getenv "PATIENCE_MS") "20000"))
  "How many milliseconds to wait for diagnostics before failing.")

(defconst smoke-injected "  let injected = \"naïve 😀 ${nosuch_value}\"\n"
  "The line written before the first `let' of a workflow: an unknown name.")

(defun smoke-fail (format-string &rest args)
  "Print FORMAT-STRING with ARGS as a failure and exit 1."
  (princ (concat "emacs smoke: FAIL: " (apply #'format format-string args) "\n")
         #'external-debugging-output)
  (kill-emacs 1))

(defun smoke-say (format-string &rest args)
  "Print FORMAT-STRING with ARGS."
  (princ (concat "emacs smoke: " (apply #'format format-string args) "\n")))

(define-derived-mode flow-mode prog-mode "Flow"
  "A minimal major mode for .flow files, enough for Eglot to manage them.")
(add-to-list 'auto-mode-alist '("\\.flow\\'" . flow-mode))

(defvar smoke-flowc (file-truename (or (getenv "FLOWC_BIN") "target/debug/flowc"))
  "The flowc binary under test.")
(add-to-list 'eglot-server-programs `(flow-mode . (,smoke-flowc "lsp")))

(defun smoke-position (buffer line column)
  "The position of 1-based LINE and COLUMN (in characters) of BUFFER."
  (with-current-buffer buffer
    (save-excursion
      (goto-char (point-min))
      (forward-line (1- line))
      (+ (point) (1- column)))))

(defun smoke-expected (file buffer)
  "What `flowc check' reports for FILE, as strings to compare with BUFFER's."
  (let ((report
         (with-temp-buffer
           (call-process smoke-flowc nil (list t nil) nil "check" "--format" "json" file)
           (goto-char (point-min))
           (json-parse-buffer :object-type 'alist :array-type 'list :null-object nil))))
    (sort
     (cl-loop
      for d in (alist-get 'diagnostics report)
      when (equal (file-truename (alist-get 'file d)) (file-truename file))
      collect (let ((start (alist-get 'start d))
                    (end (alist-get 'end d)))
                (format "%d-%d %s [%s]: %s"
                        (smoke-position buffer (alist-get 'line start) (alist-get 'column start))
                        (smoke-position buffer (alist-get 'line end) (alist-get 'column end))
                        (if (equal (alist-get 'severity d) "error") "eglot-error" "eglot-warning")
                        (alist-get 'code d)
                        (alist-get 'message d))))
     #'string<)))

(defun smoke-seen (buffer)
  "BUFFER's Flymake diagnostics, in the shape of `smoke-expected'."
  (with-current-buffer buffer
    (sort
     (cl-loop
      for d in (flymake-diagnostics)
      collect (let ((text (flymake-diagnostic-text d)))
                (format "%d-%d %s %s"
                        (flymake-diagnostic-beg d)
                        (flymake-diagnostic-end d)
                        (flymake-diagnostic-type d)
                        ;; Eglot writes "SOURCE [CODE]: MESSAGE".
                        (if (string-match "\\[[^]]*\\]: .*\\'" text)
                            (match-string 0 text)
                          text))))
     #'string<)))

(defun smoke-wait-for (buffer expected)
  "Wait until BUFFER's diagnostics equal EXPECTED; return the last ones seen."
  (let ((deadline (+ (float-time) (/ smoke-patience 1000.0)))
        (seen nil))
    (while (and (not (equal (setq seen (smoke-seen buffer)) expected))
                (< (float-time) deadline))
      (accept-process-output nil 0.05)
      ;; Batch Emacs is never idle, so Flymake's idle timer never asks Eglot for
      ;; what the server published: ask here.
      (with-current-buffer buffer (flymake-start)))
    seen))


(defconst smoke-here (file-name-directory (or load-file-name buffer-file-name))
  "The directory of this file.")

(defun smoke-goto (needle &optional offset)
  "Move to OFFSET characters into the first NEEDLE; return its 0-based line."
  (goto-char (point-min))
  (unless (search-forward needle nil t)
    (smoke-fail "no %S in %s" needle (buffer-name)))
  (goto-char (+ (match-beginning 0) (or offset 0)))
  (1- (line-number-at-pos)))

(defun smoke-features ()
  "Hover, definition, completion, formatting and rename on the shop fixture."
  (let* ((dir (make-temp-file "flow-shop" t))
         (main (expand-file-name "main.flow" dir))
         (types (expand-file-name "types.flow" dir)))
    (dolist (name '("main.flow" "types.flow"))
      (copy-file (expand-file-name (concat "../fixtures/shop/" name) smoke-here)
                 (expand-file-name name dir)))
    (let ((buffer (find-file-noselect main))
          (canonical nil))
      ;; Visited first, so a rename that edits it does not ask for confirmation.
      (find-file-noselect types)
      (with-current-buffer buffer
        (apply #'eglot (eglot--guess-contact))
        (setq canonical (buffer-string))

        ;; Hover over a step's name shows its declared body type.
        (smoke-goto "quote.body.total")
        (let* ((hover (jsonrpc-request (eglot--current-server-or-lose) :textDocument/hover
                                       (eglot--TextDocumentPositionParams)))
               (contents (plist-get hover :contents))
               (text (if (stringp contents) contents (format "%S" contents))))
          (unless (string-match-p "Quote" text)
            (smoke-fail "hover over `quote' shows %S" text)))
        (smoke-say "hover: ok")

        ;; xref, as M-. does it: the definition of a fn is its declaration's line.
        (let ((declared (save-excursion (1+ (smoke-goto "fn shipping")))))
          (smoke-goto "shipping(subtotal)")
          (let* ((xrefs (xref-backend-definitions 'eglot (xref-backend-identifier-at-point 'eglot)))
                 (lines (mapcar (lambda (x) (xref-location-line (xref-item-location x))) xrefs)))
            (unless (equal lines (list declared))
              (smoke-fail "definition of `shipping' at lines %S, not %d" lines declared))))
        (smoke-say "definition: ok")

        ;; completion-at-point after `order.' typed into the buffer.
        (smoke-goto "  let total = ")
        (forward-line 1)
        (insert "  let probe = order.")
        (eglot--signal-textDocument/didChange)
        (let* ((capf (eglot-completion-at-point))
               (labels (and capf (all-completions "" (nth 2 capf)))))
          (dolist (field '("id" "customer" "lines"))
            (unless (member field labels)
              (smoke-fail "completion after `order.' lacks %s: %S" field labels))))
        (delete-region (line-beginning-position) (point))
        (eglot--signal-textDocument/didChange)
        (smoke-say "completion: ok")

        ;; Formatting a spoiled line gives back the canonical text.
        (smoke-goto "  let subtotal")
        (insert "    ")
        (smoke-goto "subtotal = " (length "subtotal ="))
        (insert "   ")
        (eglot--signal-textDocument/didChange)
        (eglot-format-buffer)
        (unless (equal (buffer-string) canonical)
          (smoke-fail "formatting gave\n%s" (buffer-string)))
        (smoke-say "formatting: ok")

        ;; Rename a type declared in types.flow from its use in main.flow.
        (smoke-goto "order: Order" (length "order: "))
        (eglot-rename "Purchase")
        (save-some-buffers t)
        (dolist (file (list main types))
          (let ((text (with-temp-buffer (insert-file-contents file) (buffer-string)))
                (case-fold-search nil))
            (when (or (string-match-p "\\_<Order\\_>" text)
                      (not (string-match-p "Purchase" text)))
              (smoke-fail "rename left %s as\n%s" file text))))
        (let ((left (smoke-expected main buffer)))
          (when left
            (smoke-fail "flowc check after the rename: %S" left)))
        (smoke-say "rename: ok")
        (eglot-shutdown (eglot-current-server))))))

(defun smoke-main ()
  "Run the smoke test."
  (let* ((example (expand-file-name (or (getenv "EXAMPLE") "examples/quickstart.flow")))
         (dir (make-temp-file "flow-smoke" t))
         (file (expand-file-name (file-name-nondirectory example) dir))
         (original (with-temp-buffer
                     (insert-file-contents example)
                     (buffer-string)))
         (at (or (string-match "^  let " original)
                 (smoke-fail "%s has no `let' in a workflow" example))))
    (unless (file-executable-p smoke-flowc)
      (smoke-fail "no flowc binary at %s (set FLOWC_BIN)" smoke-flowc))
    (with-temp-file file
      (insert (substring original 0 at) smoke-injected (substring original at)))
    (let* ((buffer (find-file-noselect file))
           (expected (smoke-expected file buffer)))
      (unless (cl-some (lambda (line) (string-match-p "eglot-error" line)) expected)
        (smoke-fail "flowc check does not report the injected error"))
      (with-current-buffer buffer
        (unless (eq major-mode 'flow-mode)
          (smoke-fail "%s is not in flow-mode" file))
        (apply #'eglot (eglot--guess-contact)))
      (let ((seen (smoke-wait-for buffer expected)))
        (dolist (line seen) (smoke-say "diagnostic %s" line))
        (unless (equal seen expected)
          (smoke-fail "diagnostics differ from flowc check\n  expected:\n    %s\n  got:\n    %s"
                      (string-join expected "\n    ")
                      (string-join seen "\n    "))))
      (smoke-say "diagnostics on open equal flowc check (%d)" (length expected))

      ;; Fix the buffer: the server must clear what the injected line caused.
      (with-current-buffer buffer
        (goto-char (point-min))
        (search-forward smoke-injected)
        (replace-match "" t t)
        (save-buffer)
        ;; Eglot sends changes from an idle timer, which batch Emacs never runs.
        (eglot--signal-textDocument/didChange))
      (let* ((fixed (smoke-expected file buffer))
             (seen (smoke-wait-for buffer fixed)))
        (unless (equal seen fixed)
          (smoke-fail "diagnostics after the fix: %s" (string-join seen "; ")))
        (smoke-say "diagnostics after the fix equal flowc check (%d)" (length fixed)))
      (with-current-buffer buffer
        (eglot-shutdown (eglot-current-server)))
      (smoke-features)
      (kill-emacs 0))))

(condition-case err
    (smoke-main)
  (error (smoke-fail "%s" (error-message-string err))))

;;; smoke.el ends here
