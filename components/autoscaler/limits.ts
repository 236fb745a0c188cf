/**
 * How many worker VMs the project's quota allows beside the other VMs (control planes, storage
 * controller with its data volume, submit host): the `quotaWorkers` of decide.ts. Lives with the
 * quota arithmetic (components/config/quota.ts), which config validation also uses for
 * autoscaling.max.
 */
export { quotaWorkers } from "../config/quota";
