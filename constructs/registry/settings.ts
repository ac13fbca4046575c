/** The registry's settings schema: the one definition of what the environment file says about the registry. */
import { z } from "zod";
import { iamPrincipalArnSchema } from "../private/validate";

export const registrySettingsSchema = z
  .object({
    /**
     * The role that copies images in (the mirror manifest): PrivateRegistry.grantMirror lets it push and
     * read back every image, past the pull denies. Default none: only the nodes and Amazon Inspector read images.
     */
    mirrorRoleArn: iamPrincipalArnSchema.optional(),
  })
  .strict()
  .default({});

/** Registry settings as the environment file writes them. */
export type RegistrySettingsInput = z.input<typeof registrySettingsSchema>;
