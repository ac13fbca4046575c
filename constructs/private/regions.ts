// AWS region names, including the partitioned ones (eu-west-1, us-gov-west-1, us-isob-east-1).
const REGION = "[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\\d";

/** Matches an AWS region name such as `eu-west-1`. */
export const AWS_REGION_PATTERN = new RegExp(`^${REGION}$`);

/** Matches an availability zone name such as `eu-west-1a`; group 1 is its region. */
export const AWS_AZ_PATTERN = new RegExp(`^(${REGION})[a-z]$`);
