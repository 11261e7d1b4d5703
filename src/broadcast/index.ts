export * from "./broadcaster.js";
