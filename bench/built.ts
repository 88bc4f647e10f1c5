// The built service (dist/, what `npm start` runs), for bench scripts that load its modules themselves: their
// types come from src/ with `typeof import(...)`, their code from here, so that what is measured is the
// compiled JavaScript and not tsx's on-the-fly transform of src/.
export const built = (path: string): string => new URL(`../dist/${path}`, import.meta.url).href
