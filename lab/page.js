// The run's web page: an arrow, clicked or given Enter or Space, opens its frame's
// details (headers with their layers, fields, bytes, switch ports) from the JSON the
// page carries; Escape closes them and gives the focus back to the arrow.
// Inlined by lab/page.py: no network, nothing loaded from elsewhere.
(function () {
  "use strict";
  // {kinds: [[name, long name, OSI layer, TCP/IP layer, [field names]], ...],
  //  who: [sentence, ...], frames: [{ports, by, mine, bytes (base64), layers, summary}, ...]}
  // with each layer [kind, first byte, end, [field values]]
  var data = JSON.parse(document.getElementById("frames").textContent);
  var frames = data.frames;
  var panel = document.getElementById("details");
  var content = panel.querySelector(".content");
  var opened = null;

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function hexDump(hex, start, end) {
    // 16 bytes a line: offset, bytes, and the printable characters; the selected
    // header's bytes in <mark>, so the highlight is not colour alone.
    var pre = element("pre", {"class": "hex",
      "aria-label": "the frame's bytes in hexadecimal; the selected header's are marked"});
    for (var line = 0; line * 2 < hex.length; line += 16) {
      pre.appendChild(document.createTextNode(("000" + line.toString(16)).slice(-4) + "  "));
      var chars = "";
      for (var i = line; i < line + 16; i++) {
        if (i * 2 >= hex.length) { pre.appendChild(document.createTextNode("   ")); continue; }
        var pair = hex.substr(i * 2, 2), code = parseInt(pair, 16);
        var text = pair + (i % 16 === 7 ? "  " : " ");
        if (i >= start && i < end) {
          pre.appendChild(element("mark", {}, pair));
          pre.appendChild(document.createTextNode(text.slice(2)));
        } else {
          pre.appendChild(document.createTextNode(text));
        }
        chars += code >= 32 && code < 127 ? String.fromCharCode(code) : ".";
      }
      pre.appendChild(document.createTextNode(" " + chars + "\n"));
    }
    return pre;
  }

  function show(index, selected) {
    var frame = frames[index];
    var raw = atob(frame.bytes), hex = "";
    for (var b = 0; b < raw.length; b++) hex += ("0" + raw.charCodeAt(b).toString(16)).slice(-2);
    var arrow = document.querySelector('.frame[data-frame="' + index + '"]');
    var words = [".label", ".real"].map(function (part) {
      var text = arrow && arrow.querySelector(part);
      return text ? text.textContent : "";
    }).join(" ");
    content.textContent = "";
    // "Frame 3 at 1.234 ms, h1 to h2: SYN seq=0 len=0": the arrow's own text alternative
    var spoken = arrow.getAttribute("aria-label");
    content.appendChild(element("h2", {id: "details-title", tabindex: "-1"}, spoken.slice(0, spoken.indexOf(": "))));
    content.appendChild(element("p", {"class": "label"}, words));
    if (frame.summary && frame.summary !== words.trim()) content.appendChild(element("p", {}, frame.summary));
    content.appendChild(element("p", {"class": "by"}, data.who[frame.by]));
    content.appendChild(element("p", {"class": "ports"}, "Switch ports it crossed: " + frame.ports.join(", ") +
      " (first the port it entered by)."));
    content.appendChild(element("h3", {}, "Headers"));
    var list = element("ol", {"class": "layers"});
    var layers = frame.layers.map(function (row) {
      var kind = data.kinds[row[0]];
      return {name: kind[0], long: kind[1], osi: kind[2], model: kind[3], start: row[1], end: row[2],
              fields: kind[4].map(function (name, i) { return [name, row[3][i]]; })};
    });
    layers.forEach(function (layer, n) {
      // the headers a TODO built: from frame.mine[0] on, never the padding; frame.mine[1] says whose
      var mine = frame.mine !== null && n >= frame.mine[0] && layer.name !== "Padding";
      var item = element("li", {"class": "layer"});
      var button = element("button", {type: "button", "aria-pressed": String(n === selected)},
        layer.long + ": OSI layer " + layer.osi + ", TCP/IP " + layer.model + " layer, bytes " + layer.start +
        "\u2013" + (layer.end - 1));
      if (mine) button.appendChild(element("span", {"class": "yours"}, " \u2022 built by " + frame.mine[1]));
      button.addEventListener("click", function () {
        show(index, n);
        content.querySelectorAll(".layer button")[n].focus();
      });
      item.appendChild(button);
      var table = element("table", {"class": "fields"});
      var caption = element("caption", {"class": "visually-hidden"}, layer.name + " fields");
      table.appendChild(caption);
      layer.fields.forEach(function (field) {
        var row = element("tr", mine ? {"class": "mine"} : {});
        row.appendChild(element("td", {}, field[0]));
        row.appendChild(element("td", {}, field[1]));
        var whose = frame.mine && frame.mine[1] === "your code" ? "yours" : "reference";
        row.appendChild(element("td", {"class": "yours"}, mine ? whose : ""));
        table.appendChild(row);
      });
      item.appendChild(table);
      list.appendChild(item);
    });
    content.appendChild(list);
    var chosen = layers[selected] || {long: "", start: 0, end: 0};
    content.appendChild(element("h3", {}, "Bytes (" + raw.length + ")" +
      (chosen.long ? ", the " + chosen.long + " header's marked" : "")));
    content.appendChild(hexDump(hex, chosen.start, chosen.end));
  }

  function open(arrow) {
    if (opened) opened.classList.remove("selected");
    opened = arrow;
    arrow.classList.add("selected");
    show(Number(arrow.getAttribute("data-frame")), 0);
    panel.hidden = false;
    document.getElementById("details-title").focus();
  }

  function close() {
    panel.hidden = true;
    if (opened) { opened.classList.remove("selected"); opened.focus(); }
  }

  document.addEventListener("click", function (event) {
    var arrow = event.target.closest && event.target.closest(".frame");
    if (arrow) open(arrow);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) { event.preventDefault(); close(); return; }
    var arrow = event.target.closest && event.target.closest(".frame");
    if (arrow && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); open(arrow); }
  });
  panel.querySelector(".close").addEventListener("click", close);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (details) { details.open = true; });
  });
})();
