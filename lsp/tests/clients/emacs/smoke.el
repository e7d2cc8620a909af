;;; smoke.el --- `flowc lsp' in Emacs through Eglot  -*- lexical-binding: t -*-

;;; Commentary:

;; A smoke test of `flowc lsp' in a real Emacs (28+, eglot 1.9+, batch mode):
;; copy an example, inject an error after non-ASCII text, visit the copy with
;; Eglot managing it, wait for Flymake's diagnostics and compare them with what
;; `flowc check --format json' says of the same file: the region (Emacs counts
;; characters, as check's columns do, so a wrong UTF-16 conversion shows), the
;; severity, and "[CODE]: message" as Eglot writes it.  Then fix the buffer and
;; wait for the errors to clear.  Exits 0 when everything matches, 1 otherwise.
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
      (kill-emacs 0))))

(condition-case err
    (smoke-main)
  (error (smoke-fail "%s" (error-message-string err))))

;;; smoke.el ends here
