// Aisle web chat: voice input through the Web Speech API (docs/clients.md, "Voice input").
//
// The microphone button fills the question box with what the browser heard and shows it; the shopper
// then sends it (Enter or Ask) or edits it, so a misheard word never becomes a question unseen. The
// button stays hidden where the browser has no SpeechRecognition, and hides itself when the browser has
// the API but no recognition service behind it (Chromium without Google's keys answers "network").
"use strict";

window.AisleVoice = (function () {
  const UNAVAILABLE = { network: true, "service-not-allowed": true, "language-not-supported": true };
  const MESSAGES = {
    "not-allowed": "Voice input needs permission to use the microphone.",
    "no-speech": "Nothing was heard; try again.",
    "audio-capture": "No microphone was found.",
    aborted: "Voice input stopped.",
  };

  function attach(button, box, heard) {
    const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
    if (typeof Recognition !== "function") { button.hidden = true; return null; }
    button.hidden = false;
    let recognition = null;
    let transcript = "";

    function show(text) { heard.textContent = text; heard.hidden = !text; }
    function stopped() {
      recognition = null;
      button.setAttribute("aria-pressed", "false");
      button.classList.remove("listening");
    }

    button.addEventListener("click", function () {
      if (recognition) { recognition.stop(); return; }
      transcript = "";
      try {
        recognition = new Recognition();
      } catch (e) {
        button.hidden = true;
        show("Voice input is not available in this browser.");
        return;
      }
      recognition.lang = document.documentElement.lang || "en";
      recognition.interimResults = true;
      recognition.continuous = false;
      recognition.maxAlternatives = 1;
      recognition.onresult = function (event) {
        let text = "";
        for (let i = 0; i < event.results.length; i++) text += event.results[i][0].transcript;
        transcript = text.trim();
        box.value = transcript;
        show("Listening… heard: “" + transcript + "”");
      };
      recognition.onerror = function (event) {
        const code = String(event.error || "");
        if (UNAVAILABLE[code]) {
          button.hidden = true;
          show("Voice input is not available in this browser (" + code + "); type the question instead.");
        } else {
          show(MESSAGES[code] || "Voice input failed (" + code + ").");
        }
      };
      recognition.onend = function () {
        stopped();
        if (transcript) show("Heard: “" + transcript + "”. Press Enter to send it, or edit it first.");
        box.focus();
      };
      button.setAttribute("aria-pressed", "true");
      button.classList.add("listening");
      show("Listening…");
      try {
        recognition.start();
      } catch (e) {
        stopped();
        show("Voice input could not start.");
      }
    });
    return { heard: function () { return transcript; } };
  }

  return { attach: attach };
})();
