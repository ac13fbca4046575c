import { checkImagePinned, parseImageReference } from "../../constructs/private/image-ref";

const digest = `sha256:${"a".repeat(64)}`;

test.each([
  ["registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.0", { name: "registry.k8s.io/autoscaling/cluster-autoscaler", tag: "v1.31.0" }],
  ["localhost:5000/speech/inference", { name: "localhost:5000/speech/inference" }],
  ["localhost:5000/speech/inference:0.1.0", { name: "localhost:5000/speech/inference", tag: "0.1.0" }],
  [`111122223333.dkr.ecr.eu-west-1.amazonaws.com/speech/inference:0.1.0@${digest}`, { name: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/speech/inference", tag: "0.1.0", digest }],
  [`\${aws_ecr_repository.inference.repository_url}@${digest}`, { name: "${aws_ecr_repository.inference.repository_url}", digest }],
  ["${data.terraform_remote_state.infra.outputs.url}:0.1.0", { name: "${data.terraform_remote_state.infra.outputs.url}", tag: "0.1.0" }],
  ["${data.terraform_remote_state.infra.outputs.url}", { name: "${data.terraform_remote_state.infra.outputs.url}" }],
])("%s", (image, expected) => {
  expect(parseImageReference(image)).toEqual({ digest: undefined, tag: undefined, ...expected });
});

test("pinned means a full sha256 digest or a tag other than latest", () => {
  for (const ok of ["repo:0.1.0", `repo@${digest}`, `host:5000/repo@${digest}`]) expect(() => checkImagePinned(ok, "x")).not.toThrow();
  for (const bad of ["repo", "repo:latest", "host:5000/repo", "repo@sha256:abc", "repo:-bad"]) expect(() => checkImagePinned(bad, "x")).toThrow(/x: expected an image pinned by digest or immutable tag/);
});
