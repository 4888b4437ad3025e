import {currentUser, signInHosted, signInLocal} from "../lib/auth.js";
import {config} from "../lib/config.js";
import {errorBox, field, h} from "../lib/dom.js";

export const title = "Sign in";

export function render(main) {
  main.append(h("h1", {}, "Sign in"));
  if (config().auth !== "local") {
    main.append(h("p", {}, "SoundCanvas signs you in with your account's e-mail address."),
      h("button", {type: "button", class: "primary", onclick: () => signInHosted()}, "Sign in"));
    return;
  }
  const name = h("input", {name: "user", autocomplete: "username", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_\\-]{0,127}",
                           value: "", placeholder: "alice"});
  const problem = h("div");
  const form = h("form", {class: "card narrow"},
    h("p", {}, "On the local stack any user name signs in; each name has its own library, jobs and karma."),
    field("User name", name, "Letters, digits, _ and -"),
    problem,
    h("button", {type: "submit", class: "primary"}, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    try {
      await signInLocal(name.value.trim());
      if (currentUser()) location.hash = "#/generate";
    } catch (error) {
      problem.append(errorBox(error));
    }
  });
  main.append(form);
  name.focus();
}
