// Resolves a config argument: a path to a YAML file, or the name of a preset in configs/.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** A config path, or the name of a preset in configs/ ("smoke", "fmnist-vit-tiny" …). */
export function resolveConfigPath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return nameOrPath;
  const preset = path.join(repoRoot, "configs", nameOrPath.endsWith(".yaml") ? nameOrPath : `${nameOrPath}.yaml`);
  if (existsSync(preset)) return preset;
  return nameOrPath; // loadConfigFile reports it as missing, naming the path
}
