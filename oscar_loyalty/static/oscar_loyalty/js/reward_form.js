/* The reward form shows only the fields of the chosen kind.
 *
 * Fields that belong to one kind carry data-reward-kind="<kind>"; the others
 * are common to every kind. The server ignores a field of another kind, so
 * a hidden field never saves a stale value. No library needed.
 */
(function () {
    "use strict";

    function groupOf(field) {
        return field.closest(".form-group") || field.parentNode;
    }

    function show(form) {
        var kind = form.querySelector("[name=kind]");
        if (!kind) {
            return;
        }
        form.querySelectorAll("[data-reward-kind]").forEach(function (field) {
            var mine = field.getAttribute("data-reward-kind") === kind.value;
            groupOf(field).hidden = !mine;
            groupOf(field).classList.toggle("d-none", !mine);
        });
    }

    function start() {
        document.querySelectorAll("form[data-reward-form]").forEach(function (form) {
            var kind = form.querySelector("[name=kind]");
            if (kind) {
                kind.addEventListener("change", function () { show(form); });
            }
            show(form);
        });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
}());
