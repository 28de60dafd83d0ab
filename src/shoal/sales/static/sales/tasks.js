/* The task center's board: drag a card into another group (htmx posts the drop and swaps the board in place;
   a drop into "later" asks for a day first), and the list's "tick all". No inline script: the page's CSP forbids it. */
(function () {
  "use strict";
  let dragged = null;

  function board() { return document.getElementById("task-board"); }

  function post(card, key, extra) {
    const values = Object.assign({ group_by: board().dataset.groupBy, key: key }, extra || {});
    const csrf = document.getElementById("task-center").dataset.csrf;
    window.htmx.ajax("POST", card.dataset.moveUrl, { source: card, target: "#task-board", swap: "outerHTML",
                                                     values: values, headers: { "X-CSRFToken": csrf } });
  }

  function askLaterDay(card, key) {
    const dialog = document.getElementById("task-later-dialog");
    const input = document.getElementById("task-later-date");
    if (!dialog || typeof dialog.showModal !== "function") { post(card, key); return; }
    input.min = board().dataset.laterFirst || "";
    input.value = input.min;
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok" && input.value) post(card, key, { due_date: input.value });
    });
    dialog.showModal();
  }

  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest(".task-card[draggable='true']");
    if (!card) return;
    dragged = card;
    card.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.task);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("is-dragging");
    dragged = null;
    document.querySelectorAll(".task-column.is-over").forEach(function (c) { c.classList.remove("is-over"); });
  });

  function target(event) {
    const column = event.target.closest && event.target.closest(".task-column[data-drop='1']");
    if (!column || !dragged || dragged.closest(".task-column") === column) return null;
    return column;
  }

  document.addEventListener("dragover", function (event) {
    const column = target(event);
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("is-over");
  });

  document.addEventListener("dragleave", function (event) {
    const column = event.target.closest && event.target.closest(".task-column");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("is-over");
  });

  document.addEventListener("drop", function (event) {
    const column = target(event);
    if (!column) return;
    event.preventDefault();
    const card = dragged;
    column.classList.remove("is-over");
    const key = column.dataset.key;
    if (board().dataset.groupBy === "date" && key === "later" && card.dataset.dateKey !== "later") {
      askLaterDay(card, key);
    } else {
      post(card, key);
    }
  });

  document.addEventListener("change", function (event) {
    if (!event.target.classList.contains("task-all")) return;
    document.querySelectorAll("input.task-tick").forEach(function (box) { box.checked = event.target.checked; });
  });
})();
